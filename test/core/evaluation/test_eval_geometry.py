"""Geometry evaluation: exact on synthetic boxes, and the KITTI label filter."""

from pathlib import Path

import numpy as np
import pytest

from lepton_perception.core.camera import GroundProjector
from lepton_perception.core.evaluation.geometry import (
    KITTI_INTRINSICS,
    KITTI_POSE,
    evaluate_geometry,
    image_size,
    load_kitti_objects,
    load_kitti_sequences,
)
from lepton_perception.core.ground import FusedGroundLocator

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


def _row(x2: float, y2: float, kind: str = "Car") -> list[str]:
    """A KITTI tracking label row with this box's right and bottom edges (the rest irrelevant here)."""
    return ["0", "1", kind, "0", "0", "0", "10", "20", str(x2), str(y2), *["1"] * 7]


@pytest.mark.parametrize(
    ("edges", "size"),
    [
        ([(1242.0, 375.0), (600.0, 200.0)], (1243, 376)),  # clipped at W, H: one pixel more (tolerated)
        ([(1241.0, 374.0)], (1242, 375)),  # clipped at W - 1, H - 1
        ([(1224.0, 369.0), (1100.0, 300.0)], (1225, 370)),  # the 1224 x 370 sequences
    ],
)
def test_image_size_is_read_off_the_clipped_boxes(edges, size) -> None:
    assert image_size([_row(x2, y2) for x2, y2 in edges]) == size


def test_a_sequence_without_labels_evaluates_to_nothing(tmp_path) -> None:
    for sub in ("label", "calib"):
        (tmp_path / sub).mkdir()
    (tmp_path / "label" / "0099.txt").write_text("")
    (tmp_path / "calib" / "0099.txt").write_text("P2: 721.5 0 609.6 44.9 0 721.5 172.9 0.2 0 0 1 0.003\n")
    (seq,) = load_kitti_sequences(tmp_path, ("Car",))
    assert len(seq.boxes) == 0 and (seq.intrinsics.width, seq.intrinsics.height) == (1242, 375)


def test_each_sequence_gets_its_own_image_size() -> None:
    """Sequence 0017's images are 370 px tall: its intrinsics must say so, or a person cut by the
    bottom border looks like a person standing on it (a fix metres too far)."""
    seqs = {s.name: s for s in load_kitti_sequences(LABELS.parent, ("Pedestrian", "Car"))}
    assert seqs["0017"].intrinsics.height == 370 and seqs["0000"].intrinsics.height in (375, 376)
    b = seqs["0017"].boxes
    cut = (b[:, 3] >= 368.0) & (b[:, 0] > 2.0) & (b[:, 2] < seqs["0017"].intrinsics.width - 2.0)
    assert cut.sum() > 50  # objects cut by the bottom border (only), labelled untruncated
    proj = GroundProjector(seqs["0017"].intrinsics, KITTI_POSE)
    boxes, people = seqs["0017"].boxes[cut], np.zeros(int(cut.sum()), np.int64)
    measured = FusedGroundLocator(proj, 0.03, track_horizon=False, near_field=False).locate(boxes, people)
    assert not measured.valid.any()  # no ground contact, no height: no measured fix
    bounded = FusedGroundLocator(proj, 0.03, track_horizon=False).locate(boxes, people)
    road_leaves_image_m = KITTI_POSE.z_m * proj.intrinsics.fy / (proj.intrinsics.height - proj.intrinsics.cy)
    assert bounded.valid.all() and np.all(np.linalg.norm(bounded.xy_m, axis=1) < road_leaves_image_m)
