"""SORT (Bewley et al. 2016) as published, the frame-stepped baseline: filterpy Kalman filter on
[u, v, s, r, du, dv, ds] (centre, area, aspect), IoU Hungarian matching, max_age 1, min_hits 3."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from filterpy.kalman import KalmanFilter

from lepton_perception.core.tracking.association import iou_matrix, linear_assignment

F64 = npt.NDArray[np.float64]


def _to_z(b: F64) -> F64:
    w, h = b[2] - b[0], b[3] - b[1]
    return np.array([[b[0] + w / 2], [b[1] + h / 2], [w * h], [w / h]])


def _to_box(x: F64) -> F64:
    w = np.sqrt(max(x[2, 0] * x[3, 0], 1e-6))
    h = x[2, 0] / w
    return np.array([x[0, 0] - w / 2, x[1, 0] - h / 2, x[0, 0] + w / 2, x[1, 0] + h / 2])


class _SortTrack:
    def __init__(self, box: F64, track_id: int) -> None:
        kf = KalmanFilter(dim_x=7, dim_z=4)
        kf.F = np.eye(7)
        kf.F[0, 4] = kf.F[1, 5] = kf.F[2, 6] = 1.0
        kf.H = np.eye(4, 7)
        kf.R[2:, 2:] *= 10.0
        kf.P[4:, 4:] *= 1000.0
        kf.P *= 10.0
        kf.Q[-1, -1] *= 0.01
        kf.Q[4:, 4:] *= 0.01
        kf.x[:4] = _to_z(box)
        self.kf = kf
        self.id = track_id
        self.time_since_update = 0
        self.hit_streak = 0

    def predict(self) -> F64:
        if self.kf.x[6, 0] + self.kf.x[2, 0] <= 0:
            self.kf.x[6, 0] = 0.0
        self.kf.predict()
        if self.time_since_update > 0:
            self.hit_streak = 0
        self.time_since_update += 1
        return _to_box(self.kf.x)

    def update(self, box: F64) -> None:
        self.time_since_update = 0
        self.hit_streak += 1
        self.kf.update(_to_z(box))


class Sort:
    """One ``update`` per frame (SORT ignores time stamps); returns (M, 5) rows [x1, y1, x2, y2, id]."""

    def __init__(self, max_age: int = 1, min_hits: int = 3, iou_threshold: float = 0.3) -> None:
        self.max_age, self.min_hits, self.iou_threshold = max_age, min_hits, iou_threshold
        self.tracks: list[_SortTrack] = []
        self.frame_count = 0
        self._next_id = 1

    def update(self, boxes: F64) -> F64:
        self.frame_count += 1
        preds = np.array([t.predict() for t in self.tracks]).reshape(-1, 4)
        ok = np.isfinite(preds).all(axis=1)
        self.tracks = [t for t, k in zip(self.tracks, ok) if k]
        preds = preds[ok]
        iou = iou_matrix(preds, boxes)
        rows, cols = linear_assignment(1.0 - iou, 1.0 - self.iou_threshold)
        for r, c in zip(rows, cols):
            self.tracks[r].update(boxes[c])
        for c in sorted(set(range(len(boxes))) - set(cols.tolist())):
            self.tracks.append(_SortTrack(boxes[c], self._next_id))
            self._next_id += 1
        out = [
            np.append(_to_box(t.kf.x), t.id)
            for t in self.tracks
            if t.time_since_update < 1
            and (t.hit_streak >= self.min_hits or self.frame_count <= self.min_hits)
        ]
        self.tracks = [t for t in self.tracks if t.time_since_update <= self.max_age]
        return np.array(out).reshape(-1, 5)
