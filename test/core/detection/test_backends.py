"""Torch and onnxruntime backends agree, batch the same as one by one, and pick devices sensibly."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

from lepton_perception.core import detection
from lepton_perception.core.detection import DetectorConfig, create_detector, torch_backend
from lepton_perception.core.detection.onnx_backend import OnnxRuntimeDetector
from lepton_perception.core.detection.torch_backend import TorchDetector
from lepton_perception.core.types import Detections


def assert_same(a: Detections, b: Detections, box_px: float = 1.0, score: float = 1e-3) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.class_ids, b.class_ids)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=box_px, rtol=0)
    np.testing.assert_allclose(a.scores, b.scores, atol=score, rtol=0)


def test_torch_and_onnxruntime_agree_on_shared_images(torch_detector, ort_detector, images):
    batch = list(images.values())
    for t, o in zip(torch_detector.detect(batch), ort_detector.detect(batch)):
        assert len(t) > 0
        assert_same(t, o)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_batch_equals_one_by_one(backend, torch_detector, ort_detector, images):
    det = torch_detector if backend == "torch" else ort_detector
    batch = list(images.values()) + [next(iter(images.values()))]
    together = det.detect(batch)
    for img, got in zip(batch, together):
        assert_same(got, det.detect([img])[0], box_px=1e-2, score=1e-5)


def test_onnxruntime_runs_batches_in_one_call(ort_detector):
    # The fixed-batch release file was rewritten to a symbolic batch on load.
    assert ort_detector.batched
    assert not isinstance(ort_detector.session.get_inputs()[0].shape[0], int)


def test_empty_batch_and_bad_images(torch_detector, ort_detector):
    for det in (torch_detector, ort_detector):
        assert det.detect([]) == []
        with pytest.raises(ValueError, match="H, W, 3"):
            det.detect([np.zeros((10, 10), np.uint8)])


def test_thresholds_and_class_filter(model_path, images):
    img = images["dog.jpg"]
    only_vehicles = DetectorConfig(model_path=str(model_path), device="cpu", class_ids=(2, 3, 5, 7))
    dets = OnnxRuntimeDetector(only_vehicles).detect([img])[0]
    assert len(dets) >= 1 and set(dets.class_ids.tolist()) <= {2, 3, 5, 7}
    strict = DetectorConfig(model_path=str(model_path), device="cpu", score_threshold_vehicle=0.99)
    assert not set(OnnxRuntimeDetector(strict).detect([img])[0].class_ids.tolist()) & {2, 3, 5, 7}


def test_auto_picks_onnxruntime_on_cpu(model_path, monkeypatch, caplog):
    """On CPU onnxruntime is the faster backend (docs/detector.md), so ``auto`` takes it."""
    monkeypatch.setattr(detection, "_cuda_available", lambda: False)
    with caplog.at_level(logging.INFO):
        det = create_detector(DetectorConfig(model_path=str(model_path)))
    assert isinstance(det, OnnxRuntimeDetector) and det.device == "cpu"


@pytest.mark.parametrize(
    ("cuda", "broken", "expected", "fallback_from"),
    [
        (True, "torch", OnnxRuntimeDetector, "torch"),  # CUDA present but torch fails: onnxruntime
        (False, "onnxruntime", TorchDetector, "onnxruntime"),  # CPU and onnxruntime fails: torch
    ],
)
def test_auto_falls_back_to_the_other_backend(
    model_path, monkeypatch, caplog, cuda, broken, expected, fallback_from
):
    def fail(self, config):
        raise RuntimeError(f"simulated {broken} failure")

    monkeypatch.setattr(detection, "_cuda_available", lambda: cuda)
    cls = torch_backend.TorchDetector if broken == "torch" else OnnxRuntimeDetector
    monkeypatch.setattr(cls, "__init__", fail)
    with caplog.at_level(logging.WARNING):
        det = create_detector(DetectorConfig(model_path=str(model_path)))
    assert isinstance(det, expected)
    assert (
        f"simulated {broken} failure" in caplog.text
        and f"{fallback_from} detector unavailable" in caplog.text
    )
    with pytest.raises(RuntimeError, match="simulated"):
        create_detector(DetectorConfig(model_path=str(model_path), backend=broken))


def test_cuda_request_without_cuda_is_an_error(model_path):
    if torch_backend.torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        TorchDetector(DetectorConfig(model_path=str(model_path), device="cuda"))


@pytest.mark.parametrize("claims_gpu", [False, True])
def test_onnxruntime_cuda_request_that_ends_on_the_cpu_is_a_device_fault(model_path, monkeypatch, claims_gpu):
    """``device: cuda`` on onnxruntime must not quietly run on the CPU: neither without a GPU provider
    nor with one that fails to open (a GPU build whose CUDA libraries do not load falls back to the
    CPU provider with a warning). The error names CUDA, so the node's start-up falls back loudly."""
    import onnxruntime as ort

    if {"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(ort.get_available_providers()):
        pytest.skip("this onnxruntime has a GPU provider")
    if claims_gpu:  # the provider is listed but cannot open a session on this machine
        monkeypatch.setattr(
            ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
        )
    with pytest.raises(
        RuntimeError, match="'cuda:0' requested but onnxruntime runs this model on the CPU"
    ) as err:
        OnnxRuntimeDetector(DetectorConfig(model_path=str(model_path), device="cuda:0"))
    assert "cuda" in str(err.value).lower()  # what the runner's device-fault test looks for
    cpu = OnnxRuntimeDetector(DetectorConfig(model_path=str(model_path), device="auto"))
    assert cpu.device == "cpu"  # ``auto`` takes the CPU without complaint


@pytest.mark.parametrize(
    ("device", "available", "expected"),
    [
        ("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]),
        ("auto", ["CPUExecutionProvider"], ["CPUExecutionProvider"]),
        (
            "auto",
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
            [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"],
        ),
        (
            "cuda:1",
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
            [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"],
        ),
    ],
)
def test_onnxruntime_providers_follow_the_requested_device(ort_detector, device, available, expected):
    config = DetectorConfig(model_path=str(ort_detector.model_file), device=device)
    assert ort_detector._providers(config, available, batched=True) == expected


def test_onnxruntime_tensorrt_provider_gets_the_gpu_and_an_engine_profile(ort_detector, tmp_path):
    config = DetectorConfig(
        model_path=str(ort_detector.model_file), device="cuda:2", trt_cache_dir=str(tmp_path)
    )
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    (trt_name, trt), cuda, cpu = ort_detector._providers(config, available, batched=True)
    assert (trt_name, cuda, cpu) == (
        "TensorrtExecutionProvider",
        ("CUDAExecutionProvider", {"device_id": 2}),
        "CPUExecutionProvider",
    )
    size, name = config.input_size_px, ort_detector._input_name
    assert trt["device_id"] == 2 and trt["trt_engine_cache_path"] == str(tmp_path)
    assert trt["trt_profile_max_shapes"] == f"{name}:{config.max_batch}x3x{size}x{size}"


def test_onnxruntime_backend_does_not_need_torch():
    """The fallback must work when torch itself is what failed: its import chain holds no torch."""
    code = (
        "import sys; import lepton_perception.core.detection.onnx_backend; "
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_update_filter_applies_thresholds_from_the_next_call(model_path, images, backend):
    det = create_detector(DetectorConfig(model_path=str(model_path), backend=backend, device="cpu"))
    img = images["mmod_cars_test_image.jpg"]
    before = det.detect([img])[0]
    assert (before.class_ids == 2).sum() >= 8
    strict = DetectorConfig(model_path="ignored", backend="auto", score_threshold_vehicle=0.8, nms_iou=0.3)
    det.update_filter(strict)
    after = det.detect([img])[0]
    assert det.config.model_path == str(model_path) and det.config.backend == backend  # network untouched
    assert det.config.score_threshold_vehicle == 0.8 and det.config.nms_iou == 0.3
    cars = after.scores[after.class_ids == 2]
    assert len(cars) >= 1 and (cars >= 0.8).all() and len(cars) < (before.class_ids == 2).sum()


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_stage_timings_cover_the_call(backend, torch_detector, ort_detector, images):
    import time

    det = torch_detector if backend == "torch" else ort_detector
    t0 = time.perf_counter()
    det.detect(list(images.values()))
    wall_ms = (time.perf_counter() - t0) * 1e3
    t = det.last_timings_ms
    assert min(t.preprocess, t.inference, t.postprocess) > 0
    assert t.inference > t.preprocess  # the network dominates a YOLOX call on CPU
    assert t.total <= wall_ms + 1e-6
    assert det.precision == "fp32"
