"""Association costs, gating and assignment."""

import numpy as np
import pytest

from lepton_perception.core.tracking import TrackerConfig
from lepton_perception.core.tracking.association import (
    GATED,
    Candidates,
    DetectionSet,
    TrackBox,
    TrackSet,
    associate,
    linear_assignment,
)
from lepton_perception.core.tracking.tracker import cascade


def test_assignment_respects_gate_and_finds_global_optimum() -> None:
    # Greedy would take (0, 0) at 0.1 and leave track 1 with its gated pair; the optimum is the swap.
    cost = np.array([[0.1, 0.2], [0.15, GATED]])
    rows, cols = linear_assignment(cost, 0.5)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0)]
    allowed = np.array([[False, False], [True, False]])
    rows, cols = linear_assignment(np.where(allowed, cost, GATED), 0.5)
    assert list(zip(rows.tolist(), cols.tolist())) == [(1, 0)]
    r, c = linear_assignment(np.zeros((0, 3)), 1.0)
    assert len(r) == len(c) == 0


def _candidates(
    pred: list[list[float]], obs: list[list[float]], confirmed: list[bool], dets, high
) -> Candidates:
    conf = np.array(confirmed)
    return Candidates(
        tracks={TrackSet.CONFIRMED: conf, TrackSet.RECENT: conf, TrackSet.TENTATIVE: ~conf},
        detections={DetectionSet.HIGH: np.array(high), DetectionSet.LOW: ~np.array(high)},
        boxes={TrackBox.PREDICTED: np.array(pred, float), TrackBox.OBSERVED: np.array(obs, float)},
        track_classes=np.full(len(conf), 2),
        det_boxes=np.array(dets, float),
        det_classes=np.full(len(dets), 2),
        det_scores=np.where(high, 0.9, 0.5),
    )


@pytest.mark.parametrize(
    ("case", "confirmed", "high", "expected"),
    [
        # Predicted box overlaps: stage "high" matches.
        ("predicted", [True], [True], [(0, 0)]),
        # Low-score detection on a confirmed track's prediction: stage "low".
        ("predicted", [True], [False], [(0, 0)]),
        # Prediction drifted away, last observation still overlaps: stage "recovery".
        ("drifted", [True], [True], [(0, 0)]),
        # Drifted and low score: recovery takes high-score detections only.
        ("drifted", [True], [False], []),
        # Tentative tracks only meet high-score detections, against their prediction.
        ("predicted", [False], [True], [(0, 0)]),
        ("predicted", [False], [False], []),
        ("drifted", [False], [True], []),
    ],
)
def test_cascade_table(
    case: str, confirmed: list[bool], high: list[bool], expected: list[tuple[int, int]]
) -> None:
    det = [[100.0, 100.0, 140.0, 180.0]]
    pred = det if case == "predicted" else [[300.0, 100.0, 340.0, 180.0]]
    c = _candidates(pred, det, confirmed, det, high)
    rows, cols = associate(cascade(TrackerConfig()), c)
    assert list(zip(rows.tolist(), cols.tolist())) == expected


def test_cascade_is_class_aware_and_stages_see_only_free_rows() -> None:
    # Two tracks, two detections: track 0's prediction sits on detection 0; track 1 was last seen there too.
    dets = [[100.0, 100.0, 140.0, 180.0], [200.0, 100.0, 240.0, 180.0]]
    c = _candidates(
        [dets[0], [400.0, 100.0, 440.0, 180.0]], [dets[0], dets[1]], [True, True], dets, [True, True]
    )
    rows, cols = associate(cascade(TrackerConfig()), c)
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 0), (1, 1)]  # stage high, then recovery
    c = c._replace(det_classes=np.array([0, 0]))  # people, tracks are cars
    rows, _ = associate(cascade(TrackerConfig()), c)
    assert len(rows) == 0


def test_buffered_stage_matches_a_track_whose_prediction_no_longer_overlaps() -> None:
    # Prediction 30 px right of a 40 px wide detection: IoU 0.14, below the gate; C-BIoU's grown boxes
    # (12 px more on every side) overlap by 0.36.
    det = [[100.0, 100.0, 140.0, 180.0]]
    pred = [[130.0, 100.0, 170.0, 180.0]]
    c = _candidates(pred, [[300.0, 100.0, 340.0, 180.0]], [True], det, [True])
    rows, _ = associate(cascade(TrackerConfig(buffer_ratio=0.0)), c)
    assert len(rows) == 0
    rows, _ = associate(cascade(TrackerConfig(buffer_ratio=0.3)), c)
    assert rows.tolist() == [0]


@pytest.mark.parametrize(
    ("score", "fuse", "matched"), [(0.9, "high", True), (0.5, "high", False), (0.5, "none", True)]
)
def test_score_fusion_asks_weak_detections_for_more_overlap(score: float, fuse: str, matched: bool) -> None:
    # IoU 0.5 against the prediction (also with both boxes grown): passes a 0.3 gate alone, not as
    # 0.5 x 0.5 = 0.25.
    c = _candidates(
        [[100.0, 100.0, 140.0, 180.0]],
        [[300.0, 100.0, 340.0, 180.0]],
        [True],
        [[100.0, 100.0, 140.0, 180.0]],
        [True],
    )
    c = c._replace(
        boxes={**c.boxes, TrackBox.PREDICTED: np.array([[100.0, 100.0, 180.0, 180.0]])},
        det_scores=np.array([score]),
    )
    cfg = TrackerConfig(fuse_score=fuse, iou_gate=0.3, buffer_iou_gate=0.3)
    rows, _ = associate(cascade(cfg), c)
    assert (len(rows) == 1) == matched
