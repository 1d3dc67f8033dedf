"""ONNX Runtime backend: CUDA / TensorRT execution providers when present, else CPU."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lepton_perception.core.detection.base import DetectorConfig, ModelLoadError, check_model_file
from lepton_perception.core.detection.postprocess import decode, make_grid, postprocess
from lepton_perception.core.detection.preprocess import letterbox
from lepton_perception.core.types import Detections

log = logging.getLogger(__name__)


class OnnxRuntimeDetector:
    name = "onnxruntime"

    def __init__(self, config: DetectorConfig) -> None:
        import onnxruntime as ort

        path = check_model_file(config.model_path)
        self.config = config
        opts = ort.SessionOptions()
        if config.cpu_threads > 0:
            opts.intra_op_num_threads = config.cpu_threads
        available = ort.get_available_providers()
        wanted = ["CPUExecutionProvider"]
        if config.device != "cpu" and "CUDAExecutionProvider" in available:
            wanted.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=wanted)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelLoadError(f"model file {path} could not be loaded by onnxruntime: {exc}") from exc
        inp = self.session.get_inputs()[0]
        out = self.session.get_outputs()[0]
        size = config.input_size_px
        if list(inp.shape[1:]) != [3, size, size] or out.shape[-1] != 85:
            raise ModelLoadError(
                f"model file {path} is not a YOLOX COCO detector for {size}x{size} input: "
                f"input {inp.name}{inp.shape}, output {out.name}{out.shape}"
            )
        self._input_name = inp.name
        self._fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self.device = "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        self._grid, self._stride = make_grid(size)
        self._thresholds = config.score_thresholds()
        self._canvas = np.empty((size, size, 3), np.uint8)
        log.info("onnxruntime detector on %s (providers %s)", self.device, self.session.get_providers())

    def detect(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        results = []
        for image in images:
            canvas, lb = letterbox(image, self.config.input_size_px, self._canvas)
            blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)
            raw = self.session.run(None, {self._input_name: blob})[0][0]
            decoded = decode(raw, self._grid, self._stride)
            results.append(
                postprocess(decoded, lb, self._thresholds, self.config.nms_iou, self.config.max_detections)
            )
        return results
