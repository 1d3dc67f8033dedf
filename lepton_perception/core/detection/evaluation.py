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


@dataclass(frozen=True)
class Agreement:
    """How many reference boxes another detector reproduced (same class, IoU >= threshold)."""

    matched: int
    reference: int  # boxes of the reference detector
    extra: int  # boxes of the other detector matching no reference box

    def __add__(self, other: Agreement) -> Agreement:
        return Agreement(
            self.matched + other.matched, self.reference + other.reference, self.extra + other.extra
        )

    @property
    def share(self) -> float:
        """Matched / reference boxes (1.0 when the reference found nothing)."""
        return self.matched / self.reference if self.reference else 1.0


def box_agreement(
    ref_boxes: npt.ArrayLike,
    ref_classes: npt.ArrayLike,
    boxes: npt.ArrayLike,
    classes: npt.ArrayLike,
    iou_threshold: float = 0.7,
) -> Agreement:
    """One image: greedy one-to-one matching of reference boxes to boxes of the same class, best IoU first."""
    iou = iou_matrix(ref_boxes, boxes)
    same = np.asarray(ref_classes).reshape(-1, 1) == np.asarray(classes).reshape(1, -1)
    iou = np.where(same, iou, 0.0)
    n_ref, n = iou.shape
    matched = 0
    if n_ref and n:
        pairs = np.argwhere(iou >= iou_threshold)
        order = np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind="stable")
        used_r, used_c = np.zeros(n_ref, bool), np.zeros(n, bool)
        for r, c in pairs[order]:
            if not used_r[r] and not used_c[c]:
                used_r[r] = used_c[c] = True
                matched += 1
    return Agreement(matched, n_ref, n - matched)
