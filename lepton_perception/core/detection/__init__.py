"""Object detection: the ``Detector`` protocol and its backends (torch YOLOX, onnxruntime)."""

from __future__ import annotations

import logging

from lepton_perception.core.detection.base import Detector, DetectorConfig, ModelLoadError

log = logging.getLogger(__name__)

__all__ = ["Detector", "DetectorConfig", "ModelLoadError", "create_detector"]


def create_detector(config: DetectorConfig) -> Detector:
    """Build the configured backend.

    ``auto`` takes torch (CUDA when available, else CPU) and falls back to onnxruntime when torch or
    the model cannot be loaded there, logging why. A bad model file fails both ways, so when the
    fallback fails too the torch error (the more specific one) is raised.
    """
    if config.backend in ("auto", "torch"):
        try:
            from lepton_perception.core.detection.torch_backend import TorchDetector

            return TorchDetector(config)
        except Exception as exc:
            if config.backend == "torch":
                raise
            log.warning("torch detector unavailable (%s); falling back to onnxruntime", exc)
            torch_error = exc
        try:
            from lepton_perception.core.detection.onnx_backend import OnnxRuntimeDetector

            return OnnxRuntimeDetector(config)
        except ModelLoadError:
            raise torch_error from None
    from lepton_perception.core.detection.onnx_backend import OnnxRuntimeDetector

    return OnnxRuntimeDetector(config)
