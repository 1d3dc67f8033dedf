"""Torch backend: the YOLOX ``nn.Module`` with weights from the ONNX file, on CUDA (fp16) or CPU (fp32)."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import torch

from lepton_perception.core.detection import torch_ops
from lepton_perception.core.detection.base import (
    DetectorConfig,
    DeviceUnavailableError,
    StageTimings,
    with_filter,
)
from lepton_perception.core.detection.preprocess import Letterbox, LetterboxBuffer
from lepton_perception.core.detection.weights import load_yolox_from_onnx
from lepton_perception.core.detection.yolox import YOLOX
from lepton_perception.core.types import Detections

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> first CUDA device when one is usable, else CPU; explicit names are checked."""
    if device == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"device {device!r} requested but torch sees no CUDA device")
    return dev


class TorchDetector:
    """YOLOX in torch; preprocessing, decoding and NMS run on the same device as the network.

    On CUDA the images are uploaded as uint8 and letterboxed there; on CPU the cv2 letterbox is used
    (bit-identical to the onnxruntime backend's input) and uploaded without a copy.
    """

    name = "torch"

    def __init__(self, config: DetectorConfig) -> None:
        if config.precision == "int8":
            raise ValueError("precision int8 runs on the onnxruntime backend, not torch")
        self.config = config
        self._device = resolve_device(config.device)
        self.device = str(self._device)
        if config.precision == "fp16" and self._device.type != "cuda":
            raise ValueError(f"precision fp16 needs CUDA; the torch detector runs on {self.device}")
        if self._device.type == "cpu" and config.cpu_threads > 0:
            torch.set_num_threads(config.cpu_threads)  # process-wide: torch has no per-module setting
        self.dtype = torch.float16 if self._device.type == "cuda" and config.fp16 else torch.float32
        self.precision = "fp16" if self.dtype == torch.float16 else "fp32"
        net = load_yolox_from_onnx(config.model_path)
        self.arch = net.arch
        self.model: YOLOX = net.to(self._device, self.dtype)
        # NHWC (channels_last) lets oneDNN / cuDNN run the depthwise and 1x1 convs without reorders.
        self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.model.use_nhwc_gemm(self._device.type == "cpu")
        size = config.input_size_px
        self._forward, how = self._runner(size)
        self._grid, self._stride = torch_ops.grid_tensors(size, self._device)
        self._thresholds = torch.from_numpy(config.score_thresholds()).to(self._device)
        # Input buffers, grown (never shrunk) to the largest batch seen; reused across calls.
        self._batch = self._new_batch(0)
        self._letterbox = LetterboxBuffer(size)  # CPU path only; CUDA letterboxes on the device
        self.last_timings_ms = StageTimings()
        log.info(
            "torch detector: %s on %s (%s, %s)",
            self.arch.describe(),
            self.device,
            "fp16" if self.dtype == torch.float16 else "fp32",
            how,
        )

    def _runner(self, size: int) -> tuple[Callable[[torch.Tensor], torch.Tensor], str]:
        """What runs the network: torch.compile if asked, a frozen trace on CPU, else eager.

        On CPU the eager module spent ~10 ms per forward in Python and dispatch over ~300 small ops (at a
        32 x 32 input, where compute is negligible), the frozen TorchScript trace ~2 ms. The trace holds
        no shapes: it runs any batch size (tests check batched against one-by-one and onnxruntime).
        """
        if self.config.compile:
            return torch.compile(self.model, dynamic=False), "torch.compile"
        if self._device.type != "cpu":
            return self.model, "eager"
        example = torch.zeros(1, 3, size, size).contiguous(memory_format=torch.channels_last)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript deprecation notices
            traced = torch.jit.freeze(torch.jit.trace(self.model, example, check_trace=False).eval())

        def run(x: torch.Tensor) -> torch.Tensor:
            # Plain graph execution: as fast here (measured), and no seconds-long profiling/specialising
            # on the first calls of every new batch size.
            with torch.jit.optimized_execution(False):
                out: torch.Tensor = traced(x)
            return out

        return run, "frozen TorchScript trace"

    def _new_batch(self, n: int) -> torch.Tensor:
        size = self.config.input_size_px
        return torch.empty(
            n, 3, size, size, device=self._device, dtype=self.dtype, memory_format=torch.channels_last
        )

    def _ensure_capacity(self, n: int) -> None:
        if self._batch.shape[0] >= n:
            return
        self._batch = self._new_batch(n)

    def preprocess(self, images: Sequence[npt.NDArray[np.uint8]]) -> tuple[torch.Tensor, list[Letterbox]]:
        """Images -> (B, 3, S, S) network input on the device and each image's letterbox."""
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or 0 in image.shape:
                raise ValueError(
                    f"expected non-empty (H, W, 3) uint8 images, got {image.shape} {image.dtype}"
                )
        n = len(images)
        self._ensure_capacity(n)
        if self._device.type == "cuda":
            return self._batch[:n], torch_ops.letterbox_into(images, self._batch)
        canvases, lbs = self._letterbox(images)
        # (n, S, S, 3) uint8 viewed as NCHW channels_last: no transpose copy, one cast into the buffer.
        nhwc = torch.from_numpy(canvases).permute(0, 3, 1, 2)
        batch = self._batch[:n]
        batch.copy_(nhwc)
        return batch, lbs

    def update_filter(self, config: DetectorConfig) -> None:
        self.config = with_filter(self.config, config)
        self._thresholds = torch.from_numpy(self.config.score_thresholds()).to(self._device)

    def detect(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        if len(images) == 0:
            return []
        with torch.inference_mode():
            t0 = time.perf_counter()
            batch, lbs = self.preprocess(images)
            t1 = self._sync()
            raw = self._forward(batch)
            t2 = self._sync()
            out = torch_ops.postprocess(
                raw,
                self._grid,
                self._stride,
                lbs,
                thresholds=self._thresholds,
                nms_iou=self.config.nms_iou,
                max_detections=self.config.max_detections,
            )
        t3 = time.perf_counter()  # postprocess ends with the boxes on the host: already synchronised
        self.last_timings_ms = StageTimings((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
        return out

    def _sync(self) -> float:
        """Now, after the device finished queued work (CUDA runs asynchronously; stage times need it)."""
        if self._device.type == "cuda":
            torch.cuda.synchronize(self._device)
        return time.perf_counter()
