"""Pipeline (ROS-free): one call per frame or batch, and its two halves as the node runs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.core.detection import DetectorConfig, create_detector
from lepton_perception.core.ground import BoxFootLocator
from lepton_perception.core.pipeline import Pipeline
from lepton_perception.core.tracking import MultiObjectTracker
from lepton_perception.core.types import Frame


@pytest.fixture(scope="module")
def make_pipeline(shared: Path):
    detector = create_detector(
        DetectorConfig(model_path=str(shared / "models/yolox_nano.onnx"), device="cpu", backend="onnxruntime")
    )
    return lambda: Pipeline(detector, MultiObjectTracker)


def _tracks(result) -> list[tuple[int, str, tuple[float, ...]]]:
    return [(t.track_id, t.state.name, tuple(np.round(t.box, 3).tolist())) for t in result.tracks]


def test_step_batch_equals_its_two_halves_per_camera(make_pipeline, pets_frames) -> None:
    # Two cameras in one detector batch; the halves (detect_batch, then track_batch) give the same
    # tracks, per camera, as step_batch and as one step() per frame.
    h, w = pets_frames[0].shape[:2]
    locator = BoxFootLocator(
        GroundProjector(CameraIntrinsics.from_fov(w, h, 60.0), CameraPose(pitch_rad=0.3))
    )
    whole, halves, single = make_pipeline(), make_pipeline(), make_pipeline()
    for k, image in enumerate(pets_frames[:6]):
        frames = [Frame(image, 0.1 * k, "cam", cam) for cam in ("a", "b")]
        a = whole.step_batch(frames, [locator, locator])
        b = halves.track_batch(frames, halves.detect_batch(frames), [locator, locator])
        c = [single.step(f, locator) for f in frames]
        assert [_tracks(r) for r in a] == [_tracks(r) for r in b] == [_tracks(r) for r in c]
        assert _tracks(a[0]) == _tracks(a[1])  # the same image: each camera its own, equal tracker
        assert {"detect", "track", "predict"} <= set(a[0].timings_ms)
    assert set(whole.trackers) == {"a", "b"}
    assert any(t.state.name == "CONFIRMED" and t.ground is not None for t in a[0].tracks)
