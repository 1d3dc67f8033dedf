"""ONNX Runtime backend: TensorRT / CUDA execution providers when present, else CPU.

The released YOLOX files have a fixed batch of 1. On load the graph is rewritten in memory to a
dynamic batch (input/output batch dim symbolic, every ``Reshape`` target's leading 1 turned into 0 =
"copy the input's dim") and checked against the fixed graph on a two-image batch; if the rewrite is
not possible or disagrees, the backend keeps the original graph and loops over images.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import numpy_helper

from lepton_perception.core.detection.base import DetectorConfig, ModelLoadError, load_onnx, with_filter
from lepton_perception.core.detection.postprocess import decode, make_grid, postprocess
from lepton_perception.core.detection.preprocess import letterbox
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


class OnnxRuntimeDetector:
    name = "onnxruntime"

    def __init__(self, config: DetectorConfig) -> None:
        import onnxruntime as ort

        path, model = load_onnx(config.model_path)
        self.config = config
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
        # One test run at start-up: weights whose shapes do not fit the graph fail here, not mid-drive.
        probe = np.random.default_rng(0).uniform(0, 255, (2, 3, size, size)).astype(np.float32)
        try:
            single = np.concatenate([reference.run(None, {inp.name: p[None]})[0] for p in probe])
        except Exception as exc:
            raise ModelLoadError(f"model file {path} loads but fails a test run: {exc}") from exc
        if single.shape[-1] != 85 or not np.isfinite(single).all():
            raise ModelLoadError(
                f"model file {path}: test run gave output {single.shape} with non-finite values"
            )
        self.batched = not isinstance(inp.shape[0], int)
        chosen, checked = model, reference
        if not self.batched:
            dyn = self._dynamic_batch(ort, model, opts, path, probe=probe, single=single)
            if dyn is not None:
                (chosen, checked), self.batched = dyn, True
        providers = self._providers(config, ort.get_available_providers(), self.batched)
        self.session: Any = checked
        if providers != cpu:
            self.session = self._session(ort, chosen.SerializeToString(), opts, providers, path)
        self.device = "cuda" if self.session.get_providers()[0] != "CPUExecutionProvider" else "cpu"
        self._grid, self._stride = make_grid(size)
        self._thresholds = config.score_thresholds()
        self._canvases = np.empty((0, size, size, 3), np.uint8)
        log.info(
            "onnxruntime detector on %s (providers %s, %s)",
            self.device,
            self.session.get_providers(),
            "batched" if self.batched else "fixed batch 1: one run per image",
        )

    def _providers(
        self, config: DetectorConfig, available: list[str], batched: bool
    ) -> list[str | tuple[str, dict[str, object]]]:
        wanted: list[str | tuple[str, dict[str, object]]] = []
        if config.device != "cpu" and "TensorrtExecutionProvider" in available:
            size = config.input_size_px
            cache = Path(config.trt_cache_dir).expanduser()
            cache.mkdir(parents=True, exist_ok=True)
            trt: dict[str, object] = {
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
            wanted.append("CUDAExecutionProvider")
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

    def detect(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        n = len(images)
        if n == 0:
            return []
        size = self.config.input_size_px
        if self._canvases.shape[0] < n:
            self._canvases = np.empty((n, size, size, 3), np.uint8)
        lbs = [letterbox(img, size, self._canvases[i])[1] for i, img in enumerate(images)]
        blob = np.ascontiguousarray(self._canvases[:n].transpose(0, 3, 1, 2), dtype=np.float32)
        if self.batched:
            raw = self.session.run(None, {self._input_name: blob})[0]
        else:
            raw = np.concatenate([self.session.run(None, {self._input_name: b[None]})[0] for b in blob])
        return [
            postprocess(
                decode(raw[i], self._grid, self._stride),
                lb,
                self._thresholds,
                self.config.nms_iou,
                self.config.max_detections,
            )
            for i, lb in enumerate(lbs)
        ]
