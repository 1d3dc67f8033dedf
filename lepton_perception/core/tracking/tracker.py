"""Multi-object tracker: constant-velocity Kalman filters on image boxes, stepped by real time.

Minimal first version (SORT-like, dt from stamps, lifecycle in seconds and hits); issue #4 deepens it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment

from lepton_perception.core.camera import GroundProjector
from lepton_perception.core.types import Detections, GroundState, Track, TrackState


@dataclass(frozen=True)
class TrackerConfig:
    iou_gate: float = 0.3  # minimum IoU for a detection to match a track
    min_hits: int = 3  # matched detections before a track is confirmed
    max_coast_s: float = 1.0  # unmatched time after which a track is deleted
    max_tentative_gap_s: float = 0.3  # a tentative track unmatched this long is deleted
    accel_noise_pxps2: float = 200.0  # white-acceleration noise of the box centre, px/s^2
    size_noise_pxps: float = 20.0  # random-walk noise of box width/height, px/s
    measurement_noise_px: float = 4.0  # detection box std-dev, px
    history_s: float = 8.0  # ground-plane history kept for prediction, seconds


def iou_matrix(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """(N, 4) x (M, 4) xyxy boxes -> (N, M) intersection over union."""
    a64, b64 = a.astype(np.float64)[:, None], b.astype(np.float64)[None]
    w = np.clip(np.minimum(a64[..., 2], b64[..., 2]) - np.maximum(a64[..., 0], b64[..., 0]), 0, None)
    h = np.clip(np.minimum(a64[..., 3], b64[..., 3]) - np.maximum(a64[..., 1], b64[..., 1]), 0, None)
    inter = w * h
    area_a = (a64[..., 2] - a64[..., 0]) * (a64[..., 3] - a64[..., 1])
    area_b = (b64[..., 2] - b64[..., 0]) * (b64[..., 3] - b64[..., 1])
    result: npt.NDArray[np.float64] = inter / np.maximum(area_a + area_b - inter, 1e-9)
    return result


class _TrackFilter:
    """State [cx, cy, w, h, vcx, vcy] in px and px/s; F and Q are rebuilt from each step's dt."""

    def __init__(self, box: npt.NDArray[np.float32], cfg: TrackerConfig) -> None:
        self.cfg = cfg
        self.kf = KalmanFilter(dim_x=6, dim_z=4)
        self.kf.H = np.eye(4, 6)
        self.kf.R = np.eye(4) * cfg.measurement_noise_px**2
        cx, cy, w, h = _xyxy_to_cxcywh(box)
        self.kf.x = np.array([[cx], [cy], [w], [h], [0.0], [0.0]])
        self.kf.P = np.diag([10.0, 10.0, 10.0, 10.0, 200.0, 200.0]) ** 2

    def predict(self, dt: float) -> None:
        f = np.eye(6)
        f[0, 4] = f[1, 5] = dt
        q = np.zeros((6, 6))
        qa = self.cfg.accel_noise_pxps2**2
        # Discrete white-noise acceleration for (position, velocity) of each centre axis.
        for p, v in ((0, 4), (1, 5)):
            q[p, p], q[p, v], q[v, p], q[v, v] = dt**4 / 4 * qa, dt**3 / 2 * qa, dt**3 / 2 * qa, dt**2 * qa
        q[2, 2] = q[3, 3] = (self.cfg.size_noise_pxps * dt) ** 2
        self.kf.predict(F=f, Q=q)
        self.kf.x[2:4] = np.maximum(self.kf.x[2:4], 1.0)

    def update(self, box: npt.NDArray[np.float32]) -> None:
        self.kf.update(np.array(_xyxy_to_cxcywh(box)).reshape(4, 1))

    @property
    def box(self) -> npt.NDArray[np.float32]:
        cx, cy, w, h = self.kf.x[:4, 0]
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float32)


def _xyxy_to_cxcywh(b: npt.NDArray[np.float32]) -> tuple[float, float, float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]


@dataclass
class _TrackRecord:
    track_id: int
    filt: _TrackFilter
    class_id: int
    score: float
    first_s: float
    last_update_s: float
    hits: int
    confirmed: bool
    history: list[tuple[float, float, float]]


class MultiObjectTracker:
    """``step(detections, stamp_s)`` once per image of one camera; ids belong to this instance."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: list[_TrackRecord] = []
        self._next_id = 1
        self._last_stamp_s: float | None = None

    def step(
        self, detections: Detections, stamp_s: float, projector: GroundProjector | None = None
    ) -> list[Track]:
        if self._last_stamp_s is not None and stamp_s < self._last_stamp_s:
            raise ValueError(f"time went backwards: {stamp_s:.6f} s < {self._last_stamp_s:.6f} s")
        dt = 0.0 if self._last_stamp_s is None else stamp_s - self._last_stamp_s
        self._last_stamp_s = stamp_s
        cfg = self.config
        for t in self._tracks:
            t.filt.predict(dt)
        boxes = np.stack([t.filt.box for t in self._tracks]) if self._tracks else np.zeros((0, 4), np.float32)
        iou = iou_matrix(boxes, detections.boxes)
        # Class-aware: a track only matches detections of its own class.
        same_class = np.array([[t.class_id == c for c in detections.class_ids] for t in self._tracks])
        if iou.size:
            iou = np.where(same_class.reshape(iou.shape), iou, 0.0)
        rows, cols = linear_sum_assignment(-iou) if iou.size else (np.array([], int), np.array([], int))
        matched_dets: set[int] = set()
        for r, c in zip(rows, cols):
            if iou[r, c] < cfg.iou_gate:
                continue
            t = self._tracks[r]
            t.filt.update(detections.boxes[c])
            t.score = float(detections.scores[c])
            t.last_update_s = stamp_s
            t.hits += 1
            t.confirmed = t.confirmed or t.hits >= cfg.min_hits
            matched_dets.add(int(c))
        for c in range(len(detections)):
            if c not in matched_dets:
                self._tracks.append(
                    _TrackRecord(
                        self._next_id,
                        _TrackFilter(detections.boxes[c], cfg),
                        int(detections.class_ids[c]),
                        float(detections.scores[c]),
                        stamp_s,
                        stamp_s,
                        1,
                        cfg.min_hits <= 1,
                        [],
                    )
                )
                self._next_id += 1
        self._tracks = [
            t
            for t in self._tracks
            if stamp_s - t.last_update_s <= (cfg.max_coast_s if t.confirmed else cfg.max_tentative_gap_s)
        ]
        return [self._snapshot(t, stamp_s, projector) for t in self._tracks]

    def _snapshot(self, t: _TrackRecord, stamp_s: float, projector: GroundProjector | None) -> Track:
        since = stamp_s - t.last_update_s
        state = TrackState.TENTATIVE
        if t.confirmed:
            state = TrackState.CONFIRMED if since == 0.0 else TrackState.COASTING
        box = t.filt.box
        ground = None
        if projector is not None:
            foot = np.array([[(box[0] + box[2]) / 2, box[3]]], dtype=np.float64)
            xy, cov, valid = projector.to_ground(foot)
            if valid[0]:
                if since == 0.0:
                    t.history.append((stamp_s, float(xy[0, 0]), float(xy[0, 1])))
                    t.history = [h for h in t.history if stamp_s - h[0] <= self.config.history_s]
                vel = _velocity(t.history)
                c4 = np.zeros((4, 4))
                c4[:2, :2] = cov[0]
                c4[2:, 2:] = np.eye(2)
                ground = GroundState(xy[0].astype(np.float64), vel, c4)
        return Track(
            track_id=t.track_id,
            class_id=t.class_id,
            state=state,
            box=box,
            box_velocity_pxps=t.filt.kf.x[4:6, 0].astype(np.float32),
            score=t.score,
            stamp_s=stamp_s,
            age_s=stamp_s - t.first_s,
            hits=t.hits,
            time_since_update_s=since,
            ground=ground,
            history=np.array(t.history, dtype=np.float64).reshape(-1, 3),
        )


def _velocity(history: list[tuple[float, float, float]]) -> npt.NDArray[np.float64]:
    """Least-squares velocity over the last second of ground history, m/s."""
    if len(history) < 2:
        return np.zeros(2)
    h = np.array(history[-10:])
    t = h[:, 0] - h[-1, 0]
    if t[-1] - t[0] <= 0:
        return np.zeros(2)
    a = np.stack([t, np.ones_like(t)], axis=1)
    coef, *_ = np.linalg.lstsq(a, h[:, 1:], rcond=None)
    result: npt.NDArray[np.float64] = coef[0]
    return result
