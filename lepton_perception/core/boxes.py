"""Box geometry shared by detection, tracking and evaluation: one IoU, one (numpy) NMS, conversions.

Boxes are ``xyxy`` (x1, y1, x2, y2) in pixels unless a name says otherwise; ``cxcywh`` is
(centre x, centre y, width, height). The detector's on-device NMS (``detection/torch_ops.py``) is the
same greedy rule written as tensor operations for the GPU; ``test_boxes.py`` checks they agree.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> F64:
    """(N, 4) x (M, 4) xyxy boxes -> (N, M) intersection over union (empty boxes have zero area)."""
    ax1, ay1, ax2, ay2 = np.asarray(a, dtype=np.float64).reshape(-1, 4).T[:, :, None]  # each (N, 1)
    bx1, by1, bx2, by2 = np.asarray(b, dtype=np.float64).reshape(-1, 4).T[:, None, :]  # each (1, M)
    w = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    h = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    np.maximum(w, 0.0, out=w)
    np.maximum(h, 0.0, out=h)
    inter = w * h
    area_a = np.maximum(ax2 - ax1, 0.0) * np.maximum(ay2 - ay1, 0.0)
    area_b = np.maximum(bx2 - bx1, 0.0) * np.maximum(by2 - by1, 0.0)
    result: F64 = inter / np.maximum(area_a + area_b - inter, 1e-9)
    return result


def nms(boxes: npt.ArrayLike, scores: npt.ArrayLike, class_ids: npt.ArrayLike, iou_threshold: float) -> I64:
    """Greedy class-aware NMS: a box suppresses the lower-scored boxes of its own class whose IoU with
    it exceeds ``iou_threshold``. Returns kept indices by descending score (ties keep input order)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cls = np.asarray(class_ids)
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        iou = iou_matrix(b[i], b[rest])[0]
        order = rest[(iou <= iou_threshold) | (cls[rest] != cls[i])]
    return np.asarray(keep, dtype=np.int64)


def xyxy_to_cxcywh(b: F64) -> F64:
    """(N, 4) xyxy -> (N, 4) [cx, cy, w, h]."""
    return np.stack(
        [(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1
    )


def cxcywh_to_xyxy(x: F64, min_size: float = 1.0) -> F64:
    """(N, >=4) [cx, cy, w, h, ...] -> (N, 4) xyxy; width and height at least ``min_size``."""
    half = np.maximum(x[:, 2:4], min_size) / 2
    return np.concatenate([x[:, :2] - half, x[:, :2] + half], axis=1)
