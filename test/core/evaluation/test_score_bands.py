"""Precision per score band (``core/evaluation/score_bands.py``): labelling rules, bands, truth files,
the tracker pass, and the shared data's calibration as a regression."""

from pathlib import Path

import numpy as np
import pytest

from lepton_perception.core.evaluation import data
from lepton_perception.core.evaluation import score_bands as sb

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "tracking"
T, F, IG = sb.TRUE, sb.FALSE, sb.IGNORED
OBJ = [100.0, 100.0, 150.0, 200.0]  # 100 px tall


@pytest.mark.parametrize(
    ("case", "boxes", "truth", "labels"),
    [
        ("exact match", [OBJ], sb.FrameTruth(np.array([OBJ])), [T]),
        ("no truth", [OBJ], sb.FrameTruth(np.zeros((0, 4))), [F]),
        ("IoU under 0.5", [[100, 100, 150, 145]], sb.FrameTruth(np.array([OBJ])), [F]),
        ("a duplicate is false", [OBJ, [101, 101, 151, 201]], sb.FrameTruth(np.array([OBJ])), [T, F]),
        ("on a distractor", [OBJ], sb.FrameTruth(np.zeros((0, 4)), distractors=np.array([OBJ])), [IG]),
        (
            "object preferred over an overlapping distractor",
            [OBJ],
            sb.FrameTruth(np.array([OBJ]), distractors=np.array([[100, 100, 150, 190]])),
            [T],
        ),
        ("short unmatched box", [[0, 0, 10, 20]], sb.FrameTruth(np.zeros((0, 4)), min_height_px=25.0), [IG]),
        ("tall unmatched box", [[0, 0, 10, 30]], sb.FrameTruth(np.zeros((0, 4)), min_height_px=25.0), [F]),
        (
            "mostly inside don't-care",
            [[0, 0, 10, 40]],
            sb.FrameTruth(np.zeros((0, 4)), dont_care=np.array([[0.0, 0.0, 10.0, 25.0]])),
            [IG],
        ),
        (
            "under half inside don't-care",
            [[0, 0, 10, 40]],
            sb.FrameTruth(np.zeros((0, 4)), dont_care=np.array([[0.0, 0.0, 10.0, 15.0]])),
            [F],
        ),
        ("no boxes", np.zeros((0, 4)), sb.FrameTruth(np.array([OBJ])), []),
    ],
)
def test_label_boxes(case: str, boxes: list, truth: sb.FrameTruth, labels: list[int]) -> None:
    got = sb.label_boxes(np.array(boxes, float).reshape(-1, 4), truth)
    assert got.tolist() == labels, case


def test_bands_count_and_precision() -> None:
    scores = np.array([0.05, 0.3, 0.45, 0.5, 0.7, 1.0])
    labels = np.array([T, F, T, IG, T, T], np.int8)
    got = sb.bands(scores, labels, (0.3, 0.5, 1.0))
    assert [(b.lo, b.hi, b.n, b.true, b.ignored) for b in got] == [(0.3, 0.5, 2, 1, 0), (0.5, 1.0, 3, 2, 1)]
    assert got[0].precision == 0.5 and got[1].precision == 1.0  # the ignored box is not counted
    assert sb.bands(np.array([0.9]), np.array([IG], np.int8), (0.5, 1.0))[0].precision is None


def test_kitti_truth_rules(tmp_path: Path) -> None:
    rows = [
        "0 1 Car 0 0 -1 10 10 60 60 1 1 1 0 0 10 0",  # object
        "0 2 Car 1 0 -1 70 10 120 60 1 1 1 0 0 10 0",  # truncated: distractor
        "0 3 Car 0 3 -1 130 10 180 60 1 1 1 0 0 10 0",  # heavily occluded: distractor
        "0 4 Van 0 0 -1 200 10 250 60 1 1 1 0 0 10 0",  # the car class's distractor
        "1 -1 DontCare -1 -1 -10 300 10 400 60 -1 -1 -1 -1000 -1000 -1000 -10",
        "1 5 Pedestrian 0 0 -1 10 10 30 60 1 1 1 0 0 10 0",  # another class: not for cars
        "5 6 Car 0 0 -1 10 10 60 60 1 1 1 0 0 10 0",  # past n_frames: dropped
    ]
    (tmp_path / "0000.txt").write_text("\n".join(rows) + "\n")
    truth = sb.kitti_truth(tmp_path / "0000.txt", "Car", n_frames=2)
    assert len(truth) == 2
    assert truth[0].objects.tolist() == [[10, 10, 60, 60]]
    assert truth[0].distractors[:, 0].tolist() == [70, 130, 200]
    assert truth[1].objects.shape == (0, 4) and truth[1].dont_care.tolist() == [[300, 10, 400, 60]]
    assert truth[0].min_height_px == sb.KITTI_MIN_HEIGHT_PX
    ped = sb.kitti_truth(tmp_path / "0000.txt", "Pedestrian", n_frames=2)
    assert ped[1].objects.tolist() == [[10, 10, 30, 60]] and ped[0].distractors.shape == (0, 4)


def test_mot_truth(tmp_path: Path) -> None:
    (tmp_path / "gt.txt").write_text("1,1,10,20,30,40,1,-1,-1,-1\n3,1,12,20,30,40,1,-1,-1,-1\n")
    truth = sb.mot_truth(tmp_path / "gt.txt", n_frames=3)
    assert truth[0].objects.tolist() == [[10, 20, 40, 60]]
    assert truth[1].objects.shape == (0, 4) and truth[2].objects.tolist() == [[12, 20, 42, 60]]


def _sequence(boxes: list[np.ndarray], scores: list[np.ndarray]) -> data.DetectionSequence:
    return data.DetectionSequence("s", "pedestrian", 0, 10.0, len(boxes), boxes, scores, 0)


def test_tracker_pass_bands_reported_boxes_by_their_detection_score() -> None:
    """One person detected in every image, scored 0.95 except a dip to 0.4 in image 5, and a one-image
    false positive at 0.95: the raw detections hold all of them, the reported boxes only the person's
    (from the first image: confirm_first_image), the dip carried by the low-score stage."""
    n = 10
    person = np.array([[100.0, 100.0, 140.0, 200.0]])
    boxes = [person + [2.0 * k, 0, 2.0 * k, 0] for k in range(n)]
    scores = [np.array([0.4 if k == 5 else 0.95]) for k in range(n)]
    boxes[7] = np.concatenate([boxes[7], [[400.0, 100.0, 440.0, 200.0]]])
    scores[7] = np.array([0.95, 0.95])
    truth = [sb.FrameTruth(b[:1]) for b in boxes]
    ((raw, reported),) = sb.score_recordings([[(_sequence(boxes, scores), truth)]]).values()
    low, high = raw.bands((0.3, 0.5, 1.0))
    assert (low.n, low.true, high.n, high.true) == (1, 1, 10, 9)
    low, high = reported.bands((0.3, 0.5, 1.0))
    assert (low.n, low.true, high.n, high.true) == (1, 1, 9, 9)


@pytest.mark.parametrize(("cls", "kitti_type"), [("car", "Car"), ("pedestrian", "Pedestrian")])
def test_shared_kitti_detections_are_trustworthy_only_near_the_top(cls: str, kitti_type: str) -> None:
    """Regression on the shared PointRCNN detections (docs/tracking.md): boxes scored >= 0.9 are right
    most of the time, those under 0.5 seldom; the tracker's support raises the low band's precision."""
    kitti = SHARED / "kitti"
    seqs = [data.load_kitti(kitti, s, cls) for s in data.kitti_sequences(kitti)]
    pairs = [[(s, sb.kitti_truth(kitti / "label" / f"{s.name}.txt", kitti_type, s.n_frames))] for s in seqs]
    raw, reported = sb.score_recordings(pairs)[cls]
    raw_low, raw_high = raw.bands((0.3, 0.5, 0.9, 1.0))[::2]
    rep_low = reported.bands((0.3, 0.5, 0.9, 1.0))[0]
    assert raw_high.precision is not None and raw_high.precision > 0.5
    assert raw_low.precision is not None and raw_low.precision < 0.15
    assert rep_low.precision is not None and rep_low.precision > raw_low.precision
