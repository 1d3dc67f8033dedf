"""Detection accuracy against ground-truth boxes: greedy IoU matching, precision and recall."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lepton_perception.core.boxes import iou_matrix

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MatchCounts:
    tp: int
    fp: int
    fn: int
    ignored: int  # detections on "ignore" regions: neither true nor false

    def __add__(self, other: MatchCounts) -> MatchCounts:
        return MatchCounts(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.ignored + other.ignored
        )

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def match(
    boxes: npt.ArrayLike,
    scores: npt.ArrayLike,
    gt: npt.ArrayLike,
    ignore: npt.ArrayLike = (),
    iou_threshold: float = 0.5,
) -> MatchCounts:
    """Greedy matching, highest score first (PASCAL VOC / COCO style) of one image's detections.

    Each detection takes the unmatched ground-truth box of highest IoU >= ``iou_threshold``; a
    detection without one that overlaps an ``ignore`` box at that IoU is ignored, else it is a false
    positive. Unmatched ground truth are false negatives.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    gt = np.asarray(gt, np.float64).reshape(-1, 4)
    ign = np.asarray(ignore, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    iou = iou_matrix(boxes, gt)
    iou_ign = iou_matrix(boxes, ign)
    taken = np.zeros(len(gt), bool)
    tp = fp = ignored = 0
    for d in order:
        cand = np.where(taken, -1.0, iou[d]) if len(gt) else np.zeros(0)
        if len(cand) and cand.max() >= iou_threshold:
            taken[int(cand.argmax())] = True
            tp += 1
        elif len(ign) and iou_ign[d].max() >= iou_threshold:
            ignored += 1
        else:
            fp += 1
    return MatchCounts(tp, fp, int((~taken).sum()), ignored)
