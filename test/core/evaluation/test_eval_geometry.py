"""Geometry evaluation: exact on synthetic boxes, and the KITTI label filter."""

from pathlib import Path

import numpy as np

from lepton_perception.core.camera import GroundProjector
from lepton_perception.core.evaluation.geometry import (
    KITTI_INTRINSICS,
    KITTI_POSE,
    evaluate_geometry,
    load_kitti_objects,
)

LABELS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "tracking" / "kitti" / "label"


def test_exact_boxes_give_zero_error_in_every_band() -> None:
    proj = GroundProjector(KITTI_INTRINSICS, KITTI_POSE)
    rng = np.random.default_rng(0)
    xy = np.c_[rng.uniform(5, 75, 200), rng.uniform(-8, 8, 200)]
    foot = proj.to_image(np.c_[xy, np.zeros(len(xy))])
    boxes = np.c_[foot[:, 0] - 20, foot[:, 1] - 30, foot[:, 0] + 20, foot[:, 1]]
    stats, invalid = evaluate_geometry(boxes, xy, proj)
    assert invalid == 0 and sum(s.count for s in stats) == 200
    for s in stats:
        assert abs(s.range_bias_m) < 1e-6 and s.lateral_mae_m < 1e-6 and s.within_2sigma == 1.0


def test_range_bias_sign_when_boxes_sit_low() -> None:
    proj = GroundProjector(KITTI_INTRINSICS, KITTI_POSE)
    xy = np.array([[20.0, 0.0], [40.0, 2.0]])
    foot = proj.to_image(np.c_[xy, np.zeros(2)])
    boxes = np.c_[foot[:, 0] - 20, foot[:, 1] - 30, foot[:, 0] + 20, foot[:, 1] + 3.0]  # 3 px too low
    stats, _ = evaluate_geometry(boxes, xy, proj, bands_m=(0.0, 30.0, 50.0))
    assert stats[0].range_bias_m < 0 and stats[1].range_bias_m < stats[0].range_bias_m  # nearer, more so far


def test_kitti_objects_are_unoccluded_untruncated_and_in_front() -> None:
    boxes, xy = load_kitti_objects(LABELS, ("Car",))
    assert len(boxes) > 5000 and boxes.shape == (len(xy), 4)
    assert np.all(xy[:, 0] > 0)  # camera Z forward -> vehicle x
