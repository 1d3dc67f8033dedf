"""Export the torch YOLOX network to TorchScript and to ONNX (dynamic batch), checked by a round trip.

Both exports take and return exactly what the network does: (B, 3, S, S) float BGR 0-255 in,
(B, A, 5 + C) raw head output out (see ``yolox.YOLOX``); pre/post-processing is not part of them.
"""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lepton_perception.core.detection.yolox import YOLOX

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundTrip:
    path: Path
    batch: int
    max_abs_diff: float  # largest |exported - torch| over the whole (B, A, 5 + C) output


def _cpu_fp32(model: YOLOX) -> YOLOX:
    """A CPU fp32 NCHW copy with plain convs (``.float()`` etc. would change the caller's module)."""
    out: YOLOX = copy.deepcopy(model).float().cpu().eval()
    out.use_nhwc_gemm(False)
    return out.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]


def _probe(size: int, batch: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(batch, 3, size, size, generator=gen) * 255.0


def export_torchscript(model: YOLOX, path: str | Path, size: int) -> Path:
    """Trace ``model`` (CPU fp32) at a (1, 3, size, size) input; the trace is batch-agnostic."""
    model = _cpu_fp32(model)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated, still supported
        traced = torch.jit.trace(model, _probe(size, 1), check_trace=False)  # checked below
    out = Path(path)
    traced.save(str(out))
    return out


def export_onnx(model: YOLOX, path: str | Path, size: int, opset: int = 13) -> Path:
    """ONNX with a dynamic batch dim, input ``images`` and output ``output`` like the YOLOX release."""
    model = _cpu_fp32(model)
    out = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter needs no onnxscript
        torch.onnx.export(
            model,
            (_probe(size, 1),),
            str(out),
            dynamo=False,
            input_names=["images"],
            output_names=["output"],
            dynamic_axes={"images": {0: "batch"}, "output": {0: "batch"}},
            opset_version=opset,
        )
    return out


def check_torchscript(model: YOLOX, path: Path, size: int, batch: int = 2) -> RoundTrip:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path), map_location="cpu")
    x = _probe(size, batch)
    # Plain execution: the profiling executor would spend seconds specialising on the first calls.
    with torch.inference_mode(), torch.jit.optimized_execution(False):
        diff = float((loaded(x) - _cpu_fp32(model)(x)).abs().max())
    return RoundTrip(path, batch, diff)


def check_onnx(model: YOLOX, path: Path, size: int, batch: int = 2) -> RoundTrip:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = _probe(size, batch)
    got = session.run(None, {"images": x.numpy()})[0]
    with torch.inference_mode():
        want = _cpu_fp32(model)(x).numpy()
    return RoundTrip(path, batch, float(np.abs(got - want).max()))
