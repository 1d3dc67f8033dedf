"""Track-to-detection association: the cascade of stages as a table, costs, gates, Hungarian matching.

Each ``AssociationStage`` says which tracks meet which detections, against which track box, with
which cost and gate; ``associate`` runs the table in order, each stage seeing only the tracks and
detections the earlier stages left free. The default table (``cascade``) is ByteTrack's two score
tiers plus OC-SORT's observation-centric recovery:

| stage     | tracks                         | detections | track box     | gate              |
|-----------|--------------------------------|------------|---------------|-------------------|
| high      | confirmed (incl. coasting)     | high score | predicted     | ``iou_gate``      |
| low       | confirmed, seen in last image  | low score  | predicted     | ``low_iou_gate``  |
| recovery  | confirmed                      | high score | last observed | ``recovery_iou_gate`` |
| buffered  | confirmed                      | high score | predicted (*) | ``buffer_iou_gate`` |
| tentative | tentative                      | high score | predicted     | ``tentative_iou_gate`` |

(*) track and detection boxes grown by ``buffer_ratio`` of their size on every side (C-BIoU); the stage
is left out when ``buffer_ratio`` is 0.

With ``fuse_score`` the high-score stages multiply the similarity (1 - cost) by the detection's score
before the gate (ByteTrack / BoT-SORT score fusion); the low stage keeps plain IoU, as in ByteTrack.

scipy's ``linear_sum_assignment`` beats ``lap.lapjv`` with ``extend_cost`` here: ~20 us vs ~150 us for
50 x 50 (lapjv pads to a square (T + D) matrix to honour ``cost_limit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from lepton_perception.core.boxes import iou_matrix

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Stands for "not allowed" in a cost matrix (finite, so any solver accepts it).
GATED = 1e6


class AssociationCost(Protocol):
    """(T, 4) track boxes x (D, 4) detection boxes, xyxy px -> (T, D) cost; larger is worse."""

    def __call__(self, tracks: F64, dets: F64) -> F64: ...


def iou_cost(tracks: F64, dets: F64) -> F64:
    """1 - IoU: 0 for identical boxes, 1 without overlap."""
    result: F64 = 1.0 - iou_matrix(tracks, dets)
    return result


def height_iou_matrix(a: F64, b: F64) -> F64:
    """(N, 4) x (M, 4) xyxy -> (N, M) overlap of the vertical extents over their union (Hybrid-SORT's
    height cue: boxes of people at different depths differ in top and bottom even when they overlap)."""
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    span = np.maximum(a[:, None, 3], b[None, :, 3]) - np.minimum(a[:, None, 1], b[None, :, 1])
    result: F64 = np.maximum(bottom - top, 0.0) / np.maximum(span, 1e-9)
    return result


def height_modulated_iou_cost(tracks: F64, dets: F64) -> F64:
    """1 - IoU x height IoU (Hybrid-SORT's HMIoU)."""
    result: F64 = 1.0 - iou_matrix(tracks, dets) * height_iou_matrix(tracks, dets)
    return result


def buffered(boxes: F64, ratio: float) -> F64:
    """(N, 4) xyxy boxes grown by ``ratio`` x their width / height on every side (C-BIoU)."""
    wh = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([boxes[:, :2] - ratio * wh, boxes[:, 2:] + ratio * wh], axis=1)


@dataclass(frozen=True)
class BufferedCost:
    """C-BIoU: a cost on buffered boxes, for tracks and detections whose plain boxes no longer overlap
    (fast or irregular motion, a prediction that drifted)."""

    cost: AssociationCost
    ratio: float

    def __call__(self, tracks: F64, dets: F64) -> F64:
        return self.cost(buffered(tracks, self.ratio), buffered(dets, self.ratio))


class TrackSet(Enum):
    CONFIRMED = "confirmed"  # confirmed tracks, coasting ones included
    RECENT = "recent"  # confirmed tracks matched recently (``low_stage_max_gap_s``)
    TENTATIVE = "tentative"


class DetectionSet(Enum):
    HIGH = "high"  # score >= high_score
    LOW = "low"  # low_score <= score < high_score


class TrackBox(Enum):
    PREDICTED = "predicted"  # the filter's box at this image's stamp
    OBSERVED = "observed"  # the last matched detection (OC-SORT's observation-centric recovery)


@dataclass(frozen=True)
class AssociationStage:
    name: str
    tracks: TrackSet
    detections: DetectionSet
    box: TrackBox
    cost: AssociationCost
    max_cost: float  # gate: pairs costlier than this never match
    # Score fusion (ByteTrack / BoT-SORT ``fuse_score``): similarity x detection score, so a weak
    # detection needs more overlap, and of two candidates the surer one wins.
    fuse_score: bool = False


class Candidates(NamedTuple):
    """What a stage may choose from: track sets (N,) and detection sets (D,) as masks, boxes xyxy."""

    tracks: dict[TrackSet, BoolArray]
    detections: dict[DetectionSet, BoolArray]
    boxes: dict[TrackBox, F64]  # (N, 4) per kind of track box
    track_classes: I64  # (N,)
    det_boxes: F64  # (D, 4)
    det_classes: I64  # (D,)
    det_scores: F64  # (D,) in [0, 1]


def associate(stages: tuple[AssociationStage, ...], c: Candidates) -> tuple[I64, I64]:
    """Run the stages in order; each matches only still-free tracks and detections, class-aware.
    Returns (track rows, detection columns) of all matches, stage by stage."""
    trk_free = np.ones(len(c.track_classes), bool)
    det_free = np.ones(len(c.det_classes), bool)
    rows: list[I64] = []
    cols: list[I64] = []
    for stage in stages:
        ti = np.flatnonzero(c.tracks[stage.tracks] & trk_free)
        di = np.flatnonzero(c.detections[stage.detections] & det_free)
        if len(ti) == 0 or len(di) == 0:
            continue
        cost = stage.cost(c.boxes[stage.box][ti], c.det_boxes[di])
        if stage.fuse_score:
            cost = 1.0 - (1.0 - cost) * c.det_scores[di][None, :]
        cost[cost > stage.max_cost] = GATED
        cost[c.track_classes[ti][:, None] != c.det_classes[di][None, :]] = GATED
        r, k = linear_assignment(cost, GATED / 2)
        rows.append(ti[r])
        cols.append(di[k])
        trk_free[ti[r]] = False
        det_free[di[k]] = False
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def linear_assignment(cost: F64, max_cost: float) -> tuple[I64, I64]:
    """Minimum-cost matching; pairs costlier than ``max_cost`` (e.g. gated ones) stay unmatched.

    Gated pairs must cost ``GATED``, far above any allowed cost, so that the optimum never trades an
    allowed pair for a gated one. Returns (rows, cols) index arrays of the matched pairs.
    """
    if cost.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows, cols = linear_sum_assignment(cost)
    keep = cost[rows, cols] <= max_cost
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)
