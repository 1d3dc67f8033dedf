"""YOLOX output decoding and post-processing in numpy (NMS from ``core/boxes.py``; the torch backend
has its own on-device path)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lepton_perception.core.boxes import nms
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


def candidates(raw: F32, thresholds: F32) -> npt.NDArray[np.intp]:
    """Rows of a (A, 85) raw output that can pass ``thresholds`` (80,): the others need no decoding.

    A score is objectness x class probability, at most objectness x the largest class probability of
    the image (rounding is monotone), so rows below the smallest threshold on that bound are out:
    exact, whatever the class probabilities are (sigmoids, or int8 outputs slightly over 1).
    """
    floor = float(thresholds.min())
    if not np.isfinite(floor):
        return np.zeros(0, np.intp)
    top = float(raw[:, 5:].max()) if len(raw) else 1.0
    if np.isnan(top):  # no bound: decode everything
        return np.arange(len(raw))
    return np.flatnonzero(raw[:, 4] * np.float32(max(top, 1.0)) >= floor)


def decode(raw: F32, grid: F32, stride: F32) -> F32:
    """(A, 85) raw head output -> (A, 85) with xywh in input pixels (centre x, y, w, h)."""
    out = raw.copy()
    out[:, :2] = (raw[:, :2] + grid) * stride
    out[:, 2:4] = np.exp(raw[:, 2:4]) * stride
    return out


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
