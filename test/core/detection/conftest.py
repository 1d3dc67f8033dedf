"""Detector fixtures: the shared YOLOX-nano weights, both backends loaded once per session."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from lepton_perception.core.detection import DetectorConfig
from lepton_perception.core.detection.onnx_backend import OnnxRuntimeDetector
from lepton_perception.core.detection.torch_backend import TorchDetector
from lepton_perception.tools.common import shared_dir

IMAGE_NAMES = ("mmod_cars_test_image.jpg", "mmod_cars_test_image2.jpg", "dog.jpg", "person.jpg")


@pytest.fixture(scope="session")
def model_path() -> Path:
    path = shared_dir() / "models" / "yolox_nano.onnx"
    assert path.is_file(), f"shared model missing at {path}"
    return path


@pytest.fixture(scope="session")
def images() -> dict[str, npt.NDArray[np.uint8]]:
    out = {}
    for name in IMAGE_NAMES:
        img = cv2.imread(str(shared_dir() / "data" / "images" / name), cv2.IMREAD_COLOR)
        assert img is not None, name
        out[name] = np.asarray(img, np.uint8)
    return out


@pytest.fixture(scope="session")
def config(model_path: Path) -> DetectorConfig:
    return DetectorConfig(model_path=str(model_path), device="cpu")


@pytest.fixture(scope="session")
def torch_detector(config: DetectorConfig) -> TorchDetector:
    return TorchDetector(config)


@pytest.fixture(scope="session")
def ort_detector(config: DetectorConfig) -> OnnxRuntimeDetector:
    return OnnxRuntimeDetector(config)
