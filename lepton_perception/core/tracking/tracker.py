"""Multi-object tracker on image boxes, stepped by real time, with ground-plane position and velocity.

One ``step`` per image of one camera:

1. predict every track to the image stamp (F, Q from the real ``dt``; see ``motion.py``);
2. stage 1 (ByteTrack): confirmed and coasting tracks x high-score detections, cost 1 - IoU plus an
   OC-SORT velocity-direction term, class-aware, gated, Hungarian;
3. stage 2 (ByteTrack): still-unmatched recently seen tracks x low-score detections (IoU only);
4. stage 3 (OC-SORT observation-centric recovery): unmatched tracks x the remaining high-score
   detections, IoU against the track's *last observed* box rather than its drifting prediction;
   (optional stage 3b, off by default: centre distance in box heights when no IoU is left);
5. stage 4: tentative tracks x remaining high-score detections;
6. a track re-found after a gap re-runs its filter over a virtual trajectory interpolated between its
   last observation and the new one (OC-SORT observation-centric re-update), then is updated;
7. unmatched detections confident enough start tentative tracks; lifecycle by hits and seconds;
8. the foot point of each matched detection is projected to the road and fused by a per-track
   ground-plane constant-velocity Kalman filter (position/velocity in metres and m/s with covariance).

All per-track numbers live in stacked arrays so one step over 50 tracks costs well under a millisecond
(``lepton bench tracker``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from lepton_perception.core.ground import GroundFix, GroundLocator, no_fix
from lepton_perception.core.tracking.association import (
    GATED,
    centre_distance_cost,
    direction_cost,
    iou_matrix,
    linear_assignment,
)
from lepton_perception.core.tracking.motion import ConstantVelocityModel
from lepton_perception.core.types import Category, Detections, GroundState, Track, TrackState, category_of

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
# (track rows, detection columns) -> gated (T, D) cost.
CostFn = Callable[[I64, I64], F64]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerConfig:
    # Detection scores (probabilities in [0, 1]).
    high_score: float = 0.7  # stage-1 detections; lower ones only extend existing tracks (stage 2)
    low_score: float = 0.1  # detections below this are ignored
    birth_score: float = 0.7  # an unmatched detection starts a track only at or above this score
    # Gates, as minimum IoU.
    iou_gate: float = 0.3  # stage 1 (predicted box vs high-score detection)
    low_iou_gate: float = 0.5  # stage 2 (predicted box vs low-score detection)
    recovery_iou_gate: float = 0.5  # stage 3 (last observed box vs high-score detection)
    tentative_iou_gate: float = 0.3  # stage 4
    distance_gate_h: float = 0.0  # stage 3b: centre distance in box heights for IoU-less matches; 0 = off
    direction_weight: float = 0.0  # cost per radian of velocity-direction mismatch (OC-SORT VDC); 0 = off
    direction_window_s: float = 0.3  # observed direction = last observation minus the one this old
    # Lifecycle.
    min_hits: int = 3  # matched detections to confirm a track
    max_coast_s: float = 1.5  # a confirmed track unmatched this long is deleted
    max_tentative_gap_s: float = 0.15  # a tentative track unmatched this long is deleted
    # Stage 2 only extends tracks unmatched for at most this long as of the previous image (0: tracks
    # matched in the previous image, ByteTrack's "tracked" state), whatever the frame rate.
    low_stage_max_gap_s: float = 0.0
    # Observation-centric re-update after a gap longer than ``reupdate_min_gap_s``.
    reupdate_min_gap_s: float = 0.5
    reupdate_step_s: float = 0.1  # virtual observation spacing ...
    reupdate_max_steps: int = 3  # ... but at most this many virtual steps (bounds the step time)
    # Image-box Kalman filter, noise as fractions of the box height (boxes shrink with range).
    accel_noise_hps2: float = 2.0  # centre white-acceleration std, box heights / s^2
    pedestrian_accel_noise_hps2: float = 1.0  # the same for pedestrians and cyclists (tall, slow boxes)
    size_accel_noise_hps2: float = 2.0  # width/height white-acceleration std, box heights / s^2
    measurement_noise_h: float = 0.03  # detection box std, box heights
    initial_velocity_hps: float = 1.0  # initial box-velocity std, box heights / s
    # Ground-plane Kalman filter.
    foot_noise_h: float = (
        0.03  # std of the box bottom-centre, box heights (min: the projector's); BoxFootLocator
    )
    ground_accel_mps2: float = 3.0  # white-acceleration std of vehicles / unknown objects, m/s^2
    pedestrian_accel_mps2: float = 1.5  # for pedestrians and cyclists, m/s^2
    initial_speed_mps: float = 10.0  # initial ground-velocity std, m/s
    history_s: float = 8.0  # ground-plane history kept for prediction, seconds

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_score <= self.high_score <= 1.0 or not 0.0 <= self.birth_score <= 1.0:
            raise ValueError(f"need 0 <= low_score <= high_score <= 1 and birth_score in [0, 1]: {self}")
        if self.min_hits < 1 or self.reupdate_max_steps < 1:
            raise ValueError(f"min_hits and reupdate_max_steps must be >= 1: {self}")
        times = (self.max_coast_s, self.max_tentative_gap_s, self.low_stage_max_gap_s, self.history_s)
        if min(times) < 0.0 or self.reupdate_step_s <= 0.0:
            raise ValueError(f"time spans must be >= 0 (reupdate_step_s > 0): {self}")


class _Tracks:
    """Stacked per-track arrays (row i = track i); ``history`` is the one per-track Python object."""

    def __init__(self) -> None:
        self.ids: I64 = np.zeros(0, np.int64)
        self.class_ids: I64 = np.zeros(0, np.int64)
        self.scores: F64 = np.zeros(0)
        self.first_s: F64 = np.zeros(0)
        self.last_s: F64 = np.zeros(0)  # stamp of the last matched detection
        self.hits: I64 = np.zeros(0, np.int64)
        self.confirmed: BoolArray = np.zeros(0, bool)
        self.slow: BoolArray = np.zeros(0, bool)  # pedestrian-like class: gentler motion noise
        self.box_q: F64 = np.zeros((0, 4))  # white-acceleration variance of [cx, cy, w, h] per box height^2
        self.x: F64 = np.zeros((0, 8))  # [cx, cy, w, h, vcx, vcy, vw, vh] px, px/s
        self.P: F64 = np.zeros((0, 8, 8))
        self.x_obs: F64 = np.zeros((0, 8))  # filter state right after the last update (for re-update)
        self.P_obs: F64 = np.zeros((0, 8, 8))
        self.obs_box: F64 = np.zeros((0, 4))  # last matched detection box, xyxy px
        self.prev_obs_box: F64 = np.zeros((0, 4))  # an older observation, for the motion direction
        self.prev_obs_s: F64 = np.zeros(0)
        self.direction: F64 = np.zeros((0, 2))  # unit image direction of motion, zero when unknown
        self.gx: F64 = np.zeros((0, 4))  # ground [x, y, vx, vy] m, m/s
        self.gP: F64 = np.zeros((0, 4, 4))
        self.g_valid: BoolArray = np.zeros(0, bool)
        self.history: list[_History] = []

    def __len__(self) -> int:
        return len(self.ids)

    _FIELDS: ClassVar[tuple[str, ...]] = (
        *("ids", "class_ids", "scores", "first_s", "last_s", "hits", "confirmed", "slow", "box_q", "x"),
        *("P", "x_obs", "P_obs", "obs_box", "prev_obs_box", "prev_obs_s", "direction", "gx", "gP", "g_valid"),
    )

    def keep(self, mask: BoolArray) -> None:
        for name in self._FIELDS:
            setattr(self, name, getattr(self, name)[mask])
        self.history = [h for h, k in zip(self.history, mask) if k]

    def append(self, other: _Tracks) -> None:
        for name in self._FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))
        self.history.extend(other.history)


class _History:
    """Ground-plane history: rows [stamp_s, x_m, y_m] within ``keep_s`` of the newest row, oldest first.

    Amortised O(1) append; the snapshot array is built once per append and shared (read-only) by the
    ``Track`` snapshots until the next one.
    """

    __slots__ = ("_view", "buf", "n", "start")

    def __init__(self) -> None:
        self.buf: F64 = np.empty((32, 3))
        self.n = 0
        self.start = 0
        self._view: F64 | None = _EMPTY_HISTORY

    def append(self, stamp_s: float, x: float, y: float, keep_s: float) -> None:
        if self.n == len(self.buf):
            kept = self.buf[self.start : self.n]
            if len(kept) > len(self.buf) // 2:
                self.buf = np.concatenate([kept, np.empty_like(self.buf)])
            else:
                self.buf[: len(kept)] = kept
            self.n, self.start = len(kept), 0
        self.buf[self.n] = (stamp_s, x, y)
        self.n += 1
        # Rows arrive in time order, so dropping the expired ones is a short walk from the front.
        while self.buf[self.start, 0] < stamp_s - keep_s:
            self.start += 1
        self._view = None

    def view(self) -> F64:
        if self._view is None:
            v = self.buf[self.start : self.n].copy()
            v.flags.writeable = False
            self._view = v
        return self._view


_EYE4 = np.eye(4)
_EMPTY_HISTORY: F64 = np.zeros((0, 3))
_EMPTY_HISTORY.flags.writeable = False


def _xyxy_to_z(b: F64) -> F64:
    """(N, 4) xyxy -> (N, 4) [cx, cy, w, h]."""
    return np.stack(
        [(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1
    )


def _x_to_xyxy(x: F64) -> F64:
    """(N, >=4) [cx, cy, w, h, ...] -> (N, 4) xyxy."""
    half = np.maximum(x[:, 2:4], 1.0) / 2
    return np.concatenate([x[:, :2] - half, x[:, :2] + half], axis=1)


class MultiObjectTracker:
    """``step(detections, stamp_s, locator)`` once per image of one camera; ids belong to this instance."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._box_model = ConstantVelocityModel(4)
        self._ground_model = ConstantVelocityModel(2)
        self._t = _Tracks()
        self._next_id = 1
        self._last_stamp_s: float | None = None
        self.skipped_detections = 0  # rejected for NaN / infinite / empty boxes or scores

    # ----------------------------------------------------------------------------------------- step
    def step(
        self, detections: Detections, stamp_s: float, locator: GroundLocator | None = None
    ) -> list[Track]:
        if not math.isfinite(stamp_s):
            raise ValueError(f"stamp must be finite, got {stamp_s}")
        if self._last_stamp_s is not None and stamp_s < self._last_stamp_s:
            raise ValueError(f"time went backwards: {stamp_s:.6f} s < {self._last_stamp_s:.6f} s")
        prev_s = stamp_s if self._last_stamp_s is None else self._last_stamp_s
        dt = stamp_s - prev_s
        self._last_stamp_s = stamp_s
        cfg = self.config
        t = self._t
        boxes, scores, classes = self._valid_detections(detections)

        t.x, t.P = self._box_model.predict(t.x, t.P, dt, self._box_accel_var(t.x, t.box_q))
        t.gx, t.gP = self._ground_model.predict(t.gx, t.gP, dt, self._ground_accel_var(t.slow))

        det_free = scores >= cfg.low_score
        high = scores >= cfg.high_score
        trk_free = np.ones(len(t), bool)
        matches: list[tuple[I64, I64]] = []
        pred_boxes = _x_to_xyxy(t.x)

        def assign(trk_mask: BoolArray, det_mask: BoolArray, cost_fn: CostFn) -> None:
            """Hungarian matching of the free tracks/detections selected by the masks; ``cost_fn``
            gives the gated (T, D) cost of just those rows and columns."""
            ti, di = np.flatnonzero(trk_mask & trk_free), np.flatnonzero(det_mask & det_free)
            if len(ti) == 0 or len(di) == 0:
                return
            cost = cost_fn(ti, di)
            cost[t.class_ids[ti][:, None] != classes[di][None, :]] = GATED  # class-aware
            r, c = linear_assignment(cost, GATED / 2)
            matches.append((ti[r], di[c]))
            trk_free[ti[r]] = False
            det_free[di[c]] = False

        pred_iou: list[F64] = []  # IoU of all predicted boxes x all detections, computed on first use

        def iou_gated(ref_boxes: F64, min_iou: float, direction: bool = False) -> CostFn:
            def cost(ti: I64, di: I64) -> F64:
                if ref_boxes is pred_boxes:
                    if not pred_iou:
                        pred_iou.append(iou_matrix(pred_boxes, boxes))
                    iou = pred_iou[0][np.ix_(ti, di)]
                else:
                    iou = iou_matrix(ref_boxes[ti], boxes[di])
                c = 1.0 - iou
                if direction:
                    # OC-SORT velocity-direction term: only re-ranks pairs that pass the IoU gate.
                    c += (
                        cfg.direction_weight
                        / np.pi
                        * direction_cost(t.direction[ti], t.obs_box[ti], boxes[di])
                    )
                c[iou < min_iou] = GATED
                return c

            return cost

        # Stage 1: confirmed (incl. coasting) tracks x high-score detections.
        assign(t.confirmed, high, iou_gated(pred_boxes, cfg.iou_gate, cfg.direction_weight > 0))
        # Stage 2: recently seen confirmed tracks x low-score detections, IoU only.
        recent = prev_s - t.last_s <= cfg.low_stage_max_gap_s + 1e-9
        assign(t.confirmed & recent, ~high, iou_gated(pred_boxes, cfg.low_iou_gate))
        # Stage 3: observation-centric recovery against the last observed box.
        assign(t.confirmed, high, iou_gated(t.obs_box, cfg.recovery_iou_gate))
        # Stage 3b: centre distance for small or fast boxes whose IoU with any prediction is zero.
        if cfg.distance_gate_h > 0:

            def dist_cost(ti: I64, di: I64) -> F64:
                c = centre_distance_cost(pred_boxes[ti], boxes[di])
                c[c > cfg.distance_gate_h] = GATED
                return c

            assign(t.confirmed, high, dist_cost)
        # Stage 4: tentative tracks x remaining high-score detections.
        assign(~t.confirmed, high, iou_gated(pred_boxes, cfg.tentative_iou_gate))

        ti = np.concatenate([m[0] for m in matches]) if matches else np.zeros(0, np.int64)
        di = np.concatenate([m[1] for m in matches]) if matches else np.zeros(0, np.int64)
        self._update_matched(ti, boxes[di], scores[di], stamp_s)
        # Only matched and new-born detections need a ground position.
        born = np.flatnonzero(det_free & (scores >= cfg.birth_score))
        located = np.concatenate([di, born])
        foot_xy, foot_cov, foot_ok = self._project(boxes[located], classes[located], locator)
        m = len(di)
        self._update_ground(ti, foot_xy[:m], foot_cov[:m], foot_ok[:m], stamp_s)

        # Lifecycle: delete stale tracks, then start new ones from confident unmatched detections.
        since = stamp_s - t.last_s
        alive = np.where(
            t.confirmed, since <= cfg.max_coast_s + 1e-9, since <= cfg.max_tentative_gap_s + 1e-9
        )
        if not alive.all():
            t.keep(alive)
        if len(born):
            self._birth(
                boxes[born],
                scores[born],
                classes[born],
                foot_xy[m:],
                foot_cov[m:],
                foot_ok[m:],
                stamp_s,
            )
        return self._snapshots(stamp_s)

    # ----------------------------------------------------------------------------------- helpers
    def _valid_detections(self, d: Detections) -> tuple[F64, F64, I64]:
        boxes = d.boxes.astype(np.float64)
        scores = d.scores.astype(np.float64)
        ok = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
        ok &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        bad = int(len(ok) - ok.sum())
        if bad:
            self.skipped_detections += bad
            log.debug("skipped %d invalid detections (non-finite or empty boxes)", bad)
            return boxes[ok], scores[ok], d.class_ids[ok].astype(np.int64)
        return boxes, scores, d.class_ids.astype(np.int64)

    @staticmethod
    def _box_accel_var(x: F64, box_q: F64) -> F64:
        """(N, 4) white-acceleration variances of [cx, cy, w, h], px^2 / s^4: they scale with the box."""
        result: F64 = np.maximum(x[:, 3:4], 1.0) ** 2 * box_q
        return result

    def _box_cov(self, h: F64) -> F64:
        var = (self.config.measurement_noise_h * np.maximum(h, 1.0)) ** 2
        result: F64 = var[:, None, None] * _EYE4
        return result

    def _ground_accel_var(self, slow: BoolArray) -> F64:
        c = self.config
        a = np.where(slow, c.pedestrian_accel_mps2, c.ground_accel_mps2) ** 2
        return np.repeat(a[:, None], 2, axis=1)

    def _update_matched(self, ti: I64, boxes: F64, scores: F64, stamp_s: float) -> None:
        if len(ti) == 0:
            return
        cfg, t = self.config, self._t
        gaps = stamp_s - t.last_s[ti]
        re = t.confirmed[ti] & (gaps > cfg.reupdate_min_gap_s + 1e-9)
        if re.any():
            self._reupdate(ti[re], boxes[re], gaps[re])
        z = _xyxy_to_z(boxes)
        t.x[ti], t.P[ti] = self._box_model.update(t.x[ti], t.P[ti], z, self._box_cov(z[:, 3]))
        t.x_obs[ti], t.P_obs[ti] = t.x[ti], t.P[ti]
        if cfg.direction_weight > 0:
            # Observed direction of motion (OC-SORT): from an observation ~direction_window_s old.
            prev = t.prev_obs_box[ti]
            d = z[:, :2] - (prev[:, :2] + prev[:, 2:]) / 2
            norm = np.linalg.norm(d, axis=1)
            has_prev = norm > 1e-6
            t.direction[ti] = np.where(
                has_prev[:, None], d / np.maximum(norm, 1e-6)[:, None], t.direction[ti]
            )
            old = stamp_s - t.prev_obs_s[ti] >= cfg.direction_window_s - 1e-9
            refresh = ti[old]
            t.prev_obs_box[refresh] = t.obs_box[refresh]
            t.prev_obs_s[refresh] = t.last_s[refresh]
        t.obs_box[ti] = boxes
        t.scores[ti] = scores
        t.last_s[ti] = stamp_s
        t.hits[ti] += 1
        t.confirmed[ti] |= t.hits[ti] >= cfg.min_hits

    def _reupdate(self, idx: I64, boxes: F64, gaps_s: F64) -> None:
        """Re-run the filters of tracks ``idx`` from their last update over boxes interpolated linearly
        to the new ``boxes`` (OC-SORT's virtual trajectory), in steps of about ``reupdate_step_s``;
        tracks with the same number of steps are processed together."""
        t, model = self._t, self._box_model
        cfg = self.config
        steps = np.clip(np.round(gaps_s / cfg.reupdate_step_s), 1, cfg.reupdate_max_steps).astype(np.int64)
        for n in np.unique(steps).tolist():
            g = steps == n
            sel = idx[g]
            x, P, box_q = t.x_obs[sel], t.P_obs[sel], t.box_q[sel]
            z0, z1 = _xyxy_to_z(t.obs_box[sel]), _xyxy_to_z(boxes[g])
            # One common step per group keeps the batch; per-track step lengths differ by < 1 step.
            step = float(np.mean(gaps_s[g])) / n
            for k in range(1, n):
                x, P = model.predict(x, P, step, self._box_accel_var(x, box_q))
                z = z0 + (z1 - z0) * (k / n)
                x, P = model.update(x, P, z, self._box_cov(z[:, 3]))
            x, P = model.predict(x, P, step, self._box_accel_var(x, box_q))
            t.x[sel], t.P[sel] = x, P

    def _project(self, boxes: F64, classes: I64, locator: GroundLocator | None) -> GroundFix:
        if locator is None or len(boxes) == 0:
            return no_fix(len(boxes))
        return locator.locate(boxes, classes)

    def _update_ground(self, ti: I64, xy: F64, cov: F64, ok: BoolArray, stamp_s: float) -> None:
        if not ok.any():
            return
        t = self._t
        fresh = ok & ~t.g_valid[ti]
        upd = ok & t.g_valid[ti]
        if fresh.any():
            t.gx[ti[fresh]], t.gP[ti[fresh]] = self._ground_init(xy[fresh], cov[fresh])
            t.g_valid[ti[fresh]] = True
        if upd.any():
            i = ti[upd]
            t.gx[i], t.gP[i] = self._ground_model.update(t.gx[i], t.gP[i], xy[upd], cov[upd])
        keep_s = self.config.history_s
        for i, (x, y) in zip(ti[ok].tolist(), t.gx[ti[ok], :2].tolist()):
            t.history[i].append(stamp_s, x, y, keep_s)

    def _ground_init(self, xy: F64, cov: F64) -> tuple[F64, F64]:
        gx = np.zeros((len(xy), 4))
        gx[:, :2] = xy
        gP = np.zeros((len(xy), 4, 4))
        gP[:, :2, :2] = cov
        gP[:, 2, 2] = gP[:, 3, 3] = self.config.initial_speed_mps**2
        return gx, gP

    def _birth(
        self, boxes: F64, scores: F64, classes: I64, xy: F64, cov: F64, ok: BoolArray, stamp_s: float
    ) -> None:
        cfg, n = self.config, len(boxes)
        new = _Tracks()
        new.ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        new.class_ids, new.scores = classes, scores
        new.slow = (classes == _SLOW_CLASSES[0]) | (classes == _SLOW_CLASSES[1])
        centre = np.where(new.slow, cfg.pedestrian_accel_noise_hps2, cfg.accel_noise_hps2)
        size = np.full(n, cfg.size_accel_noise_hps2)
        new.box_q = np.stack([centre, centre, size, size], axis=1) ** 2
        new.first_s, new.last_s = np.full(n, stamp_s), np.full(n, stamp_s)
        new.hits = np.ones(n, np.int64)
        new.confirmed = np.full(n, cfg.min_hits <= 1)
        z = _xyxy_to_z(boxes)
        new.x = np.concatenate([z, np.zeros((n, 4))], axis=1)
        new.P = np.zeros((n, 8, 8))
        new.P[:, :4, :4] = self._box_cov(z[:, 3])
        ax = np.arange(4, 8)
        new.P[:, ax, ax] = ((cfg.initial_velocity_hps * z[:, 3]) ** 2)[:, None]
        new.x_obs, new.P_obs = new.x.copy(), new.P.copy()
        new.obs_box, new.prev_obs_box = boxes.copy(), boxes.copy()
        new.prev_obs_s = np.full(n, stamp_s)
        new.direction = np.zeros((n, 2))
        new.gx, new.gP = np.zeros((n, 4)), np.zeros((n, 4, 4))
        new.g_valid = ok.copy()
        if ok.any():
            new.gx[ok], new.gP[ok] = self._ground_init(xy[ok], cov[ok])
        new.history = [_History() for _ in range(n)]
        for k in np.flatnonzero(ok):
            new.history[k].append(stamp_s, xy[k, 0], xy[k, 1], cfg.history_s)
        self._t.append(new)

    def _snapshots(self, stamp_s: float) -> list[Track]:
        t = self._t
        boxes = _x_to_xyxy(t.x).astype(np.float32)
        vel = t.x[:, 4:6].astype(np.float32)
        since = stamp_s - t.last_s
        states = np.where(t.confirmed, np.where(since <= 0.0, TrackState.CONFIRMED, TrackState.COASTING), 0)
        gx, gP = t.gx.copy(), t.gP.copy()
        state_of = list(TrackState)
        out = []
        # Python scalars in bulk (tolist) rather than per-element numpy conversions: this loop is the
        # largest part of a step with many tracks.
        # Row views made in bulk (iterating an array) rather than by per-track indexing, and the
        # frozen snapshots filled directly (see ``_FAST_OK``): this loop dominates a step with many tracks.
        fast = _FAST_OK[Track] and _FAST_OK[GroundState]
        new, setattr_ = object.__new__, object.__setattr__
        for box, v, pos, gvel, cov, tid, cid, st, score, first, hits, dt_since, g_ok, hist in zip(
            list(boxes),
            list(vel),
            list(gx[:, :2]),
            list(gx[:, 2:]),
            list(gP),
            t.ids.tolist(),
            t.class_ids.tolist(),
            states.tolist(),
            t.scores.tolist(),
            t.first_s.tolist(),
            t.hits.tolist(),
            since.tolist(),
            t.g_valid.tolist(),
            t.history,
        ):
            fields = {
                "track_id": tid,
                "class_id": cid,
                "state": state_of[st],
                "box": box,
                "box_velocity_pxps": v,
                "score": score,
                "stamp_s": stamp_s,
                "age_s": stamp_s - first,
                "hits": hits,
                "time_since_update_s": dt_since,
                "ground": None,
                "history": hist.view(),
            }
            if fast:
                if g_ok:
                    ground = new(GroundState)
                    setattr_(ground, "__dict__", {"position_m": pos, "velocity_mps": gvel, "covariance": cov})
                    fields["ground"] = ground
                track = new(Track)
                setattr_(track, "__dict__", fields)
                out.append(track)
            else:
                if g_ok:
                    fields["ground"] = GroundState(pos, gvel, cov)
                out.append(Track(**fields))
        return out


def _fast_frozen_ok(cls: type) -> bool:
    """Plain frozen dataclass with a ``__dict__`` and no ``__post_init__`` (nothing to skip)."""
    return (
        dataclasses.is_dataclass(cls) and not hasattr(cls, "__post_init__") and "__slots__" not in vars(cls)
    )


# A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__``: ~6 us per
# ``Track``, a third of the 1 ms step budget with 50 tracks. For plain frozen dataclasses (no
# ``__post_init__``, no slots) filling ``__dict__`` with *all* fields gives the same object
# (``test_tracker_lifecycle.py`` checks equality with the regular constructor); others take the
# regular path.
_FAST_OK: dict[type, bool] = {c: _fast_frozen_ok(c) for c in (Track, GroundState)}


# COCO classes whose ground motion is pedestrian-like: person, bicycle.
_SLOW_CLASSES = (0, 1)
assert all(category_of(c) in (Category.PEDESTRIAN, Category.CYCLIST) for c in _SLOW_CLASSES)
