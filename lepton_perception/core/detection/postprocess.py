"""YOLOX output decoding and class-aware NMS (numpy; the torch backend has its own on-device path)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lepton_perception.core.detection.preprocess import Letterbox
from lepton_perception.core.types import Detections

F32 = npt.NDArray[np.float32]
STRIDES = (8, 16, 32)


def make_grid(size: int, strides: tuple[int, ...] = STRIDES) -> tuple[F32, F32]:
    """Anchor-point grid for a square input: ``(xy (A, 2) cell indices, stride (A, 1))``."""
    xy, st = [], []
    for s in strides:
        n = size // s
        yv, xv = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        xy.append(np.stack([xv, yv], axis=-1).reshape(-1, 2))
        st.append(np.full((n * n, 1), s))
    return np.concatenate(xy).astype(np.float32), np.concatenate(st).astype(np.float32)


def decode(raw: F32, grid: F32, stride: F32) -> F32:
    """(A, 85) raw head output -> (A, 85) with xywh in input pixels (centre x, y, w, h)."""
    out = raw.copy()
    out[:, :2] = (raw[:, :2] + grid) * stride
    out[:, 2:4] = np.exp(raw[:, 2:4]) * stride
    return out


def nms(
    boxes: F32, scores: F32, class_ids: npt.NDArray[np.int64], iou_threshold: float
) -> npt.NDArray[np.int64]:
    """Greedy class-aware NMS: a box only suppresses boxes of its own class.

    Returns kept indices in descending score order (ties keep input order).
    """
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[(iou <= iou_threshold) | (class_ids[rest] != class_ids[i])]
    return np.asarray(keep, dtype=np.int64)


def postprocess(
    decoded: F32,
    letterbox: Letterbox,
    thresholds: F32,
    nms_iou: float,
    max_detections: int,
) -> Detections:
    """Decoded (A, 85) rows of one image -> final detections in original image pixels.

    Scores are ``objectness * class probability``; each anchor keeps its best class; ``thresholds``
    (80,) holds the per-class minimum score (+inf drops a class). NMS runs per class.
    """
    cls_prob = decoded[:, 5:]
    class_ids = cls_prob.argmax(axis=1)
    scores = decoded[:, 4] * cls_prob[np.arange(len(cls_prob)), class_ids]
    keep = scores >= thresholds[class_ids]
    if not keep.any():
        return Detections.empty()
    xywh, scores, class_ids = decoded[keep, :4], scores[keep], class_ids[keep]
    boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], axis=1)
    kept = nms(boxes, scores, class_ids, nms_iou)[:max_detections]
    return Detections(
        letterbox.boxes_to_image(boxes[kept]),
        scores[kept].astype(np.float32),
        class_ids[kept].astype(np.int64),
    )
