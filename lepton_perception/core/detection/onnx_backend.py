"""ONNX Runtime backend: TensorRT / CUDA execution providers when present, else CPU.

The released YOLOX files have a fixed batch of 1. On load the graph is rewritten in memory to a
dynamic batch (input/output batch dim symbolic, every ``Reshape`` target's leading 1 turned into 0 =
"copy the input's dim") and checked against the fixed graph on a two-image batch; if the rewrite is
not possible or disagrees, the backend keeps the original graph and loops over images.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import numpy_helper

from lepton_perception.core.detection.base import (
    DetectorConfig,
    DeviceUnavailableError,
    ModelLoadError,
    StageTimings,
    load_onnx,
    with_filter,
)
from lepton_perception.core.detection.postprocess import candidates, decode, make_grid, postprocess
from lepton_perception.core.detection.preprocess import Letterbox, LetterboxBuffer
from lepton_perception.core.types import Detections

log = logging.getLogger(__name__)


def make_batch_dynamic(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """Copy of ``model`` with a symbolic batch dim, or None when a ``Reshape`` pins the batch otherwise."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name: t for t in m.graph.initializer}
    users: dict[str, int] = {}
    for node in m.graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    for node in m.graph.node:
        if node.op_type != "Reshape":
            continue
        target = inits.get(node.input[1])
        if target is None or users[node.input[1]] != 1:
            return None  # computed or shared target shape: not safe to edit blindly
        shape = numpy_helper.to_array(target).copy()
        if shape.ndim != 1 or shape.size == 0 or shape[0] != 1:
            return None
        shape[0] = 0  # ONNX Reshape: 0 copies the input's dim (the batch)
        target.CopyFrom(numpy_helper.from_array(shape, target.name))
    for value in (*m.graph.input, *m.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = "batch"
    del m.graph.value_info[:]  # intermediate shapes were inferred for batch 1
    return m


def _model_for(config: DetectorConfig) -> str:
    """The file to load: the fp32 model, or for ``int8`` its cached quantised model (built if missing)."""
    if config.precision != "int8":
        return config.model_path
    from lepton_perception.core.detection.quantize import ensure_int8_model

    try:
        int8 = ensure_int8_model(config.model_path, config.input_size_px, cache_dir=config.int8_cache_dir)
    except (OSError, ValueError) as exc:  # calibration data missing or unreadable
        raise ModelLoadError(f"int8 model for {config.model_path} cannot be built: {exc}") from exc
    return str(int8.path)


class OnnxRuntimeDetector:
    name = "onnxruntime"

    def __init__(self, config: DetectorConfig, model_file: str | Path | None = None) -> None:
        """``model_file``: load this ONNX instead of the one ``config`` names (e.g. an int8 variant)."""
        import onnxruntime as ort

        if config.precision == "fp16" and (config.device == "cpu" or not _has_cuda(ort)):
            raise ValueError(
                "precision fp16 needs CUDA (onnxruntime TensorRT/CUDA provider); this is CPU only"
            )
        path, model = load_onnx(model_file or _model_for(config))
        self.config = config
        self.model_file = path
        size = config.input_size_px
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if config.cpu_threads > 0:
            opts.intra_op_num_threads = config.cpu_threads
        opts.inter_op_num_threads = 1  # the graph is one chain; parallelism is inside ops
        # Idle workers sleep instead of spinning: the detector shares the cores with torch stages
        # (tracker, predictor, the torch backend in benchmarks), which spinning workers would starve.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        cpu = ["CPUExecutionProvider"]
        # Checks run on CPU sessions; the accelerator session is opened once, on the chosen graph.
        reference = self._session(ort, model.SerializeToString(), opts, cpu, path)
        inp, out = reference.get_inputs()[0], reference.get_outputs()[0]
        if list(inp.shape[1:]) != [3, size, size] or len(out.shape) != 3 or out.shape[-1] != 85:
            raise ModelLoadError(
                f"model file {path} is not a YOLOX COCO detector for {size}x{size} input: "
                f"input {inp.name}{inp.shape}, output {out.name}{out.shape}"
            )
        self._input_name = inp.name
        probe, single = _test_run(reference, inp.name, path, size)
        self.batched = not isinstance(inp.shape[0], int)
        chosen, checked = model, reference
        if not self.batched:
            dyn = self._dynamic_batch(ort, model, opts, path, probe=probe, single=single)
            if dyn is not None:
                (chosen, checked), self.batched = dyn, True
        # int8 (QDQ) is the CPU path; the GPU providers run fp32/fp16 graphs.
        available = ["CPUExecutionProvider"] if config.precision == "int8" else ort.get_available_providers()
        providers = self._providers(config, available, self.batched)
        self.session: Any = checked
        if providers != cpu:
            self.session = self._session(ort, chosen.SerializeToString(), opts, providers, path)
        self.device = "cuda" if self.session.get_providers()[0] != "CPUExecutionProvider" else "cpu"
        if config.device.startswith("cuda") and config.precision != "int8" and self.device == "cpu":
            # An explicit GPU request that ends on the CPU is a device fault, not a quiet slowdown: the
            # node then falls back to the CPU loudly (logged, counted, health degraded).
            raise DeviceUnavailableError(
                f"device {config.device!r} requested but onnxruntime runs this model on the CPU only"
                f" (available providers {ort.get_available_providers()}; install onnxruntime-gpu with"
                " CUDA and cuDNN libraries it can load)"
            )
        self.precision = self._precision(config, self.session.get_providers())
        self._grid, self._stride = make_grid(size)
        self._thresholds = config.score_thresholds()
        self._letterbox = LetterboxBuffer(size)
        self._blob = np.empty((0, 3, size, size), np.float32)
        self.last_timings_ms = StageTimings()
        log.info(
            "onnxruntime detector on %s, %s (providers %s, %s, %s)",
            self.device,
            self.precision,
            self.session.get_providers(),
            "batched" if self.batched else "fixed batch 1: one run per image",
            path,
        )

    @staticmethod
    def _precision(config: DetectorConfig, providers: list[str]) -> str:
        if config.precision == "int8":
            return "int8"
        return "fp16" if providers[0] == "TensorrtExecutionProvider" and config.fp16 else "fp32"

    def _providers(
        self, config: DetectorConfig, available: list[str], batched: bool
    ) -> list[str | tuple[str, dict[str, object]]]:
        wanted: list[str | tuple[str, dict[str, object]]] = []
        gpu = {"device_id": cuda_index(config.device)}  # "cuda:N" -> N; "auto" and "cuda" -> 0
        if config.device != "cpu" and "TensorrtExecutionProvider" in available:
            size = config.input_size_px
            cache = Path(config.trt_cache_dir).expanduser()
            cache.mkdir(parents=True, exist_ok=True)
            trt: dict[str, object] = {
                **gpu,
                "trt_fp16_enable": config.fp16,
                "trt_engine_cache_enable": True,  # build once, reuse on later starts
                "trt_engine_cache_path": str(cache),
            }
            if batched:  # one engine profile covering batch 1 .. max_batch
                name = self._input_name
                trt["trt_profile_min_shapes"] = f"{name}:1x3x{size}x{size}"
                trt["trt_profile_opt_shapes"] = f"{name}:{config.max_batch}x3x{size}x{size}"
                trt["trt_profile_max_shapes"] = f"{name}:{config.max_batch}x3x{size}x{size}"
            wanted.append(("TensorrtExecutionProvider", trt))
        if config.device != "cpu" and "CUDAExecutionProvider" in available:
            wanted.append(("CUDAExecutionProvider", dict(gpu)))
        wanted.append("CPUExecutionProvider")
        return wanted

    @staticmethod
    def _session(ort: Any, data: bytes, opts: Any, providers: list[Any], path: Path) -> Any:
        try:
            return ort.InferenceSession(data, opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelLoadError(f"model file {path} could not be loaded by onnxruntime: {exc}") from exc

    def _dynamic_batch(
        self,
        ort: Any,
        model: onnx.ModelProto,
        opts: Any,
        path: Path,
        *,
        probe: npt.NDArray[np.float32],
        single: npt.NDArray[np.float32],
    ) -> tuple[onnx.ModelProto, Any] | None:
        """The dynamic-batch graph and its CPU session, if it reproduces ``single`` on ``probe``."""
        dyn = make_batch_dynamic(model)
        if dyn is None:
            log.info("%s: a Reshape pins the batch; keeping batch 1 and looping over images", path)
            return None
        try:
            session = self._session(ort, dyn.SerializeToString(), opts, ["CPUExecutionProvider"], path)
            both = session.run(None, {self._input_name: probe})[0]
        except Exception as exc:  # e.g. a shape op the rewrite missed
            log.warning("dynamic-batch rewrite of %s fails (%s); looping over images", path, exc)
            return None
        err = float(np.abs(both - single).max())
        if err > 1e-3:
            log.warning("dynamic-batch rewrite of %s disagrees with the original by %.3g; looping", path, err)
            return None
        return dyn, session

    def update_filter(self, config: DetectorConfig) -> None:
        self.config = with_filter(self.config, config)
        self._thresholds = self.config.score_thresholds()

    def preprocess(
        self, images: Sequence[npt.NDArray[np.uint8]]
    ) -> tuple[npt.NDArray[np.float32], list[Letterbox]]:
        """Images -> (B, 3, S, S) float32 network input (a view of a reused buffer) and the letterboxes.

        One resize per image into the reused uint8 canvas, then one pass that changes the layout
        (HWC BGR -> CHW) and the type (uint8 -> float32) into the reused input buffer.
        """
        n = len(images)
        if self._blob.shape[0] < n:
            self._blob = np.empty((n, *self._blob.shape[1:]), np.float32)
        canvases, lbs = self._letterbox(images)
        blob = self._blob[:n]
        np.copyto(blob, canvases.transpose(0, 3, 1, 2))
        return blob, lbs

    def detect(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        if len(images) == 0:
            return []
        t0 = time.perf_counter()
        blob, lbs = self.preprocess(images)
        t1 = time.perf_counter()
        if self.batched:
            raw = self.session.run(None, {self._input_name: blob})[0]
        else:
            raw = np.concatenate([self.session.run(None, {self._input_name: b[None]})[0] for b in blob])
        t2 = time.perf_counter()
        out = []
        for i, lb in enumerate(lbs):
            rows = candidates(raw[i], self._thresholds)  # only anchors that can pass are decoded
            decoded = decode(raw[i][rows], self._grid[rows], self._stride[rows])
            out.append(
                postprocess(decoded, lb, self._thresholds, self.config.nms_iou, self.config.max_detections)
            )
        t3 = time.perf_counter()
        self.last_timings_ms = StageTimings((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
        return out


def _test_run(session: Any, input_name: str, path: Path, size: int) -> tuple[npt.NDArray[np.float32], Any]:
    """One test run at start-up: weights whose shapes do not fit the graph fail here, not mid-drive.

    Returns the (2, 3, S, S) probe and the outputs of running its images one by one.
    """
    probe = np.random.default_rng(0).uniform(0, 255, (2, 3, size, size)).astype(np.float32)
    try:
        single = np.concatenate([session.run(None, {input_name: p[None]})[0] for p in probe])
    except Exception as exc:
        raise ModelLoadError(f"model file {path} loads but fails a test run: {exc}") from exc
    if single.shape[-1] != 85 or not np.isfinite(single).all():
        raise ModelLoadError(f"model file {path}: test run gave output {single.shape} with non-finite values")
    return probe, single


def cuda_index(device: str) -> int:
    """The GPU index a device name selects: ``cuda:N`` -> N, ``cuda`` / ``auto`` -> 0."""
    _, _, index = device.partition(":")
    if not index:
        return 0
    if not index.isdigit():
        raise ValueError(f"device {device!r}: expected 'cuda:N' with N a GPU index")
    return int(index)


def _has_cuda(ort: Any) -> bool:
    providers = ort.get_available_providers()
    return "CUDAExecutionProvider" in providers or "TensorrtExecutionProvider" in providers
