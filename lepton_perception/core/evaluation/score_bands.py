"""What a detection at score ``s`` is worth: precision per score band, of the raw detections and of
the boxes our tracker reports, against labelled tracking data (``lepton eval scores``).

The tracker's score thresholds (``high_score``, ``low_score``, ``birth_score``) are absolute numbers,
but detectors do not share a calibration: a box scored 0.8-0.9 is a pedestrian 9 % of the time with
the shared KITTI PointRCNN detections and about half the time with the MOT15 TUD ones
(docs/tracking.md, "What a detection score is worth"). This module measures that per data set, so
the thresholds can be set for the detector a team runs, on their own labels, instead of copied.

Boxes are labelled as TrackEval counts them (one-to-one matching at IoU >= 0.5, Hungarian per image):
``TRUE`` matched to a ground-truth object; ``IGNORED`` matched to a distractor (KITTI: Van for cars,
Person_sitting for pedestrians, or an occluded > 2 / truncated > 0 object of the class), or unmatched
and either at most 25 px tall or lying more than half inside a KITTI DontCare region; ``FALSE``
otherwise. Precision per band = true / (true + false).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from lepton_perception.core.boxes import iou_matrix
from lepton_perception.core.evaluation.data import DetectionSequence, recording_frames
from lepton_perception.core.evaluation.peers import LeptonTracker
from lepton_perception.core.tracking import TrackerConfig

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]

TRUE, FALSE, IGNORED = 1, 0, -1
MATCH_IOU = 0.5
# TrackEval Kitti2DBox: unmatched boxes at most this tall (px) are not counted; objects of the class more
# occluded or truncated than this are distractors.
KITTI_MIN_HEIGHT_PX = 25.0
KITTI_MAX_OCCLUSION = 2
KITTI_MAX_TRUNCATION = 0
KITTI_DISTRACTORS = {"Car": "Van", "Pedestrian": "Person_sitting"}
DEFAULT_EDGES = (0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one image, xyxy px: (G, 4) objects to find, (D, 4) distractors a box may match
    without counting, (R, 4) regions whose unmatched boxes do not count (KITTI DontCare)."""

    objects: F64
    distractors: F64 = field(default_factory=lambda: np.zeros((0, 4)))
    dont_care: F64 = field(default_factory=lambda: np.zeros((0, 4)))
    min_height_px: float = 0.0


@dataclass(frozen=True)
class Band:
    """Boxes scored in [lo, hi) (the last band includes ``hi``)."""

    lo: float
    hi: float
    n: int
    true: int
    ignored: int

    @property
    def precision(self) -> float | None:
        counted = self.n - self.ignored
        return self.true / counted if counted else None


def label_boxes(boxes: F64, truth: FrameTruth) -> I8:
    """(M,) TRUE / FALSE / IGNORED for (M, 4) xyxy boxes of one image (rules in the module docstring)."""
    labels = np.full(len(boxes), FALSE, np.int8)
    if len(boxes) == 0:
        return labels
    targets = np.concatenate([truth.objects, truth.distractors]).reshape(-1, 4)
    matched = np.zeros(len(boxes), bool)
    if len(targets):
        iou = iou_matrix(boxes, targets)
        rows, cols = linear_sum_assignment(-np.where(iou >= MATCH_IOU, iou, 0.0))
        ok = iou[rows, cols] >= MATCH_IOU
        rows, cols = rows[ok], cols[ok]
        matched[rows] = True
        labels[rows] = np.where(cols < len(truth.objects), TRUE, IGNORED)
    small = (boxes[:, 3] - boxes[:, 1]) <= truth.min_height_px
    labels[~matched & (small | _inside(boxes, truth.dont_care))] = IGNORED
    return labels


def _inside(boxes: F64, regions: F64) -> npt.NDArray[np.bool_]:
    """(M,) whether more than half of each box's area lies inside one of ``regions``."""
    if len(regions) == 0:
        return np.zeros(len(boxes), bool)
    lt = np.maximum(boxes[:, None, :2], regions[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], regions[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)  # (M, R) px^2
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)  # (M,)
    return np.asarray((inter > 0.5 * area[:, None]).any(axis=1))


def bands(scores: F64, labels: I8, edges: Sequence[float] = DEFAULT_EDGES) -> list[Band]:
    """Counts per score band; ``edges`` ascending, boxes scored outside [edges[0], edges[-1]] left out."""
    out = []
    for k, (lo, hi) in enumerate(itertools.pairwise(edges)):
        last = k == len(edges) - 2
        m = (scores >= lo) & ((scores <= hi) if last else (scores < hi))
        n_true, n_ignored = int((labels[m] == TRUE).sum()), int((labels[m] == IGNORED).sum())
        out.append(Band(lo, hi, int(m.sum()), n_true, n_ignored))
    return out


@dataclass
class ScoredBoxes:
    """Scores and labels gathered over many images."""

    scores: list[F64] = field(default_factory=list)
    labels: list[I8] = field(default_factory=list)

    def add(self, scores: F64, boxes: F64, truth: FrameTruth) -> None:
        self.scores.append(np.asarray(scores, np.float64))
        self.labels.append(label_boxes(np.asarray(boxes, np.float64).reshape(-1, 4), truth))

    def bands(self, edges: Sequence[float] = DEFAULT_EDGES) -> list[Band]:
        if not self.scores:
            return bands(np.zeros(0), np.zeros(0, np.int8), edges)
        return bands(np.concatenate(self.scores), np.concatenate(self.labels), edges)


# One class of one recording with its per-image truth.
Labelled = tuple[DetectionSequence, list[FrameTruth]]


def score_recordings(
    recordings: Iterable[Sequence[Labelled]], config: TrackerConfig | None = None
) -> dict[str, tuple[ScoredBoxes, ScoredBoxes]]:
    """Per class (``DetectionSequence.cls``): (raw detections, our tracker's reported boxes), each
    labelled against the truth. A recording's classes go through one tracker together, as ``lepton
    eval tracking`` runs ours (``peers.LeptonTracker``). A reported box (a confirmed track matched in
    that image, what ``lepton eval tracking`` scores) is banded by the score of the detection that
    updated its track in that image."""
    out: dict[str, tuple[ScoredBoxes, ScoredBoxes]] = {}
    for rec in recordings:
        tracker = LeptonTracker(config)
        cells = [out.setdefault(seq.cls, (ScoredBoxes(), ScoredBoxes())) for seq, _ in rec]
        for k, (stamp_s, frame) in enumerate(recording_frames([seq for seq, _ in rec])):
            tracks = tracker.reported(frame, stamp_s)
            for (seq, truth), (raw, reported) in zip(rec, cells, strict=True):
                raw.add(seq.scores[k], seq.boxes[k], truth[k])
                mine = [t for t in tracks if t.class_id == seq.coco_class]
                reported.add(np.array([t.score for t in mine]), np.array([t.box for t in mine]), truth[k])
    return out


def kitti_truth(label_file: Path, kitti_type: str, n_frames: int) -> list[FrameTruth]:
    """Per-image truth of one KITTI tracking label file for ``kitti_type`` ("Car" or "Pedestrian")."""
    objects: list[list[list[float]]] = [[] for _ in range(n_frames)]
    distractors: list[list[list[float]]] = [[] for _ in range(n_frames)]
    dont_care: list[list[list[float]]] = [[] for _ in range(n_frames)]
    for line in label_file.read_text().splitlines():
        p = line.split()
        if len(p) < 10 or int(p[0]) >= n_frames:
            continue
        frame, kind, box = int(p[0]), p[2], [float(v) for v in p[6:10]]
        hard = int(float(p[4])) > KITTI_MAX_OCCLUSION or int(float(p[3])) > KITTI_MAX_TRUNCATION
        if kind == kitti_type:
            (distractors if hard else objects)[frame].append(box)
        elif kind == KITTI_DISTRACTORS.get(kitti_type):
            distractors[frame].append(box)
        elif kind == "DontCare":
            dont_care[frame].append(box)
    return [
        FrameTruth(_boxes(o), _boxes(d), _boxes(r), KITTI_MIN_HEIGHT_PX)
        for o, d, r in zip(objects, distractors, dont_care, strict=True)
    ]


def mot_truth(gt_file: Path, n_frames: int) -> list[FrameTruth]:
    """Per-image truth of a MOT15 ``gt.txt`` (``frame,id,x,y,w,h,...``, frames 1-based)."""
    gt = np.loadtxt(gt_file, delimiter=",", ndmin=2)
    frames = gt[:, 0].astype(np.int64) - 1
    xyxy = np.concatenate([gt[:, 2:4], gt[:, 2:4] + gt[:, 4:6]], axis=1)
    return [FrameTruth(xyxy[frames == k]) for k in range(n_frames)]


def _boxes(rows: list[list[float]]) -> F64:
    return np.array(rows, np.float64).reshape(-1, 4)
