"""Object detection: the ``Detector`` protocol and its backends."""

from __future__ import annotations

import logging

from lepton_perception.core.detection.base import Detector, DetectorConfig, ModelLoadError

log = logging.getLogger(__name__)

__all__ = ["Detector", "DetectorConfig", "ModelLoadError", "create_detector"]


def create_detector(config: DetectorConfig) -> Detector:
    """Build the configured backend. ``auto`` takes onnxruntime until the torch backend lands."""
    from lepton_perception.core.detection.onnx_backend import OnnxRuntimeDetector

    return OnnxRuntimeDetector(config)
