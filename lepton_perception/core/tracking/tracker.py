"""Multi-object tracker on image boxes, stepped by real time, with ground-plane position and velocity.

``MultiObjectTracker.step`` reads as its stages:

1. **lifecycle**: tracks unmatched for longer than their coast time as of this stamp are deleted
   (a long gap between images expires tracks instead of extrapolating them);
2. **predict** every track to the image stamp (F, Q from the real ``dt``; ``motion.py``);
3. **associate** detections to tracks by the table of stages in ``association.py`` (ByteTrack's score
   tiers, OC-SORT's recovery against the last observed box), class-aware, gated, Hungarian;
4. **update** the matched tracks' box filters; a track re-found after a gap first re-runs its filter
   over a virtual trajectory between its last observation and the new one (OC-SORT re-update);
5. **ground update**: the matched boxes' ground fixes from the ``GroundLocator`` are fused by the
   per-track ground-plane filter (``ground_filter.py``);
6. **birth**: unmatched detections confident enough start tentative tracks;
7. **output**: one immutable ``Track`` snapshot per track.

All per-track numbers live in one ``TrackStore`` of stacked arrays, so a step over 50 tracks costs well
under a millisecond (``lepton bench tracker``).
"""

from __future__ import annotations

import logging
import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from lepton_perception.core.boxes import cxcywh_to_xyxy, xyxy_to_cxcywh
from lepton_perception.core.ground import GroundFix, GroundLocator, image_motion
from lepton_perception.core.tracking.association import (
    AssociationCost,
    AssociationStage,
    BufferedCost,
    Candidates,
    DetectionSet,
    TrackBox,
    TrackSet,
    associate,
    height_modulated_iou_cost,
    iou_cost,
)
from lepton_perception.core.tracking.config import TrackerConfig
from lepton_perception.core.tracking.confirmation import ScoreConsistency, consecutive_delay_ratio
from lepton_perception.core.tracking.ground_filter import GroundFilter, GroundNoise, locate
from lepton_perception.core.tracking.motion import ConstantVelocityModel, MotionModel
from lepton_perception.core.tracking.store import TrackStore
from lepton_perception.core.types import Category, Detections, GroundState, Track, TrackState, category_of

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

log = logging.getLogger(__name__)

_EYE4 = np.eye(4)
_EPS_S = 1e-9  # stamp differences carry rounding noise
# COCO classes whose motion is pedestrian-like: person, bicycle.
_SLOW_CLASSES = (0, 1)
assert all(category_of(c) in (Category.PEDESTRIAN, Category.CYCLIST) for c in _SLOW_CLASSES)


class _Dets(NamedTuple):
    boxes: F64  # (D, 4) xyxy px
    scores: F64  # (D,)
    classes: I64  # (D,) COCO


COSTS: dict[str, AssociationCost] = {"iou": iou_cost, "hmiou": height_modulated_iou_cost}


def cascade(config: TrackerConfig, cost: AssociationCost | None = None) -> tuple[AssociationStage, ...]:
    """The association table (see ``association.py``); IoU gates become cost gates 1 - min IoU.
    ``cost`` (default: the one ``config.association_cost`` names) is used by every stage."""
    c = config
    base = cost if cost is not None else COSTS[c.association_cost]

    def stage(
        name: str,
        tracks: TrackSet,
        dets: DetectionSet,
        box: TrackBox,
        min_iou: float,
        f: AssociationCost = base,
    ) -> AssociationStage:
        fuse = c.fuse_score == "all" or (c.fuse_score == "high" and dets == DetectionSet.HIGH)
        return AssociationStage(name, tracks, dets, box, f, 1.0 - min_iou, fuse)

    stages = [
        stage("high", TrackSet.CONFIRMED, DetectionSet.HIGH, TrackBox.PREDICTED, c.iou_gate),
        stage("low", TrackSet.RECENT, DetectionSet.LOW, TrackBox.PREDICTED, c.low_iou_gate),
        stage("recovery", TrackSet.CONFIRMED, DetectionSet.HIGH, TrackBox.OBSERVED, c.recovery_iou_gate),
    ]
    if c.buffer_ratio > 0:
        buffered = BufferedCost(base, c.buffer_ratio)
        stages.append(
            stage(
                "buffered",
                TrackSet.CONFIRMED,
                DetectionSet.HIGH,
                TrackBox.PREDICTED,
                c.buffer_iou_gate,
                buffered,
            )
        )
    stages.append(
        stage("tentative", TrackSet.TENTATIVE, DetectionSet.HIGH, TrackBox.PREDICTED, c.tentative_iou_gate)
    )
    return tuple(stages)


class MultiObjectTracker:
    """``step(detections, stamp_s, locator)`` once per image of one camera; ids belong to this instance.

    ``box_model`` (4 axes: cx, cy, w, h) and ``ground_model`` (2 axes: x, y) are ``MotionModel``s;
    ``cost`` is the ``AssociationCost`` every stage of the cascade uses (default: the config's).
    """

    def __init__(
        self,
        config: TrackerConfig | None = None,
        *,
        box_model: MotionModel | None = None,
        ground_model: MotionModel | None = None,
        cost: AssociationCost | None = None,
    ) -> None:
        self._box_model = box_model or ConstantVelocityModel(4)
        if self._box_model.dim_z != 4:
            raise ValueError(f"the box model needs 4 axes (cx, cy, w, h), got dim_z={self._box_model.dim_z}")
        self._ground_model = ground_model or ConstantVelocityModel(2)
        self._cost = cost
        self.config = config or TrackerConfig()
        self._t = TrackStore()
        self._next_id = 1
        self._last_stamp_s: float | None = None
        self._last_locator: GroundLocator | None = None  # the previous image's, for ego-motion
        self._consistency = ScoreConsistency()  # how the detector scores the confirmed tracks
        self.skipped_detections = 0  # rejected for NaN / infinite / empty boxes or scores

    @property
    def config(self) -> TrackerConfig:
        return self._config

    @config.setter
    def config(self, config: TrackerConfig) -> None:
        """Settings may change between steps (live parameters); the stages follow."""
        self._config = config
        self._stages = cascade(config, self._cost)
        noise = GroundNoise(
            config.ground_accel_mps2,
            config.pedestrian_accel_mps2,
            config.initial_speed_mps,
            config.history_s,
            config.max_coast_s,
        )
        self._ground = GroundFilter(self._ground_model, noise)

    # ----------------------------------------------------------------------------------------- step
    def step(
        self, detections: Detections, stamp_s: float, locator: GroundLocator | None = None
    ) -> list[Track]:
        first_image = self._last_stamp_s is None
        prev_s, dt = self._advance_clock(stamp_s)
        dets = self._valid_detections(detections)
        self._lifecycle(stamp_s, prev_s)
        self._predict(dt)
        self._compensate(locator)
        ti, di = associate(self._stages, self._candidates(dets, prev_s))
        self._update(ti, dets.boxes[di], dets.scores[di], stamp_s)
        born = self._unmatched_confident(dets, di)
        located = np.concatenate([di, born])
        fix = locate(locator, dets.boxes[located], dets.classes[located])
        self._ground.update(self._t, ti, _rows_of(fix, slice(0, len(di))), stamp_s)
        newborn = _Dets(dets.boxes[born], dets.scores[born], dets.classes[born])
        self._birth(newborn, _rows_of(fix, slice(len(di), None)), stamp_s, first_image)
        return self._output(stamp_s)

    # ------------------------------------------------------------------------------------- stages
    def _advance_clock(self, stamp_s: float) -> tuple[float, float]:
        """(previous stamp, dt) in seconds; invalid or backward stamps are refused."""
        if not math.isfinite(stamp_s) or stamp_s < 0.0:
            raise ValueError(f"stamp must be finite and >= 0 s, got {stamp_s}")
        if self._last_stamp_s is not None and stamp_s < self._last_stamp_s:
            raise ValueError(f"time went backwards: {stamp_s:.6f} s < {self._last_stamp_s:.6f} s")
        prev_s = stamp_s if self._last_stamp_s is None else self._last_stamp_s
        self._last_stamp_s = stamp_s
        return prev_s, stamp_s - prev_s

    def _valid_detections(self, d: Detections) -> _Dets:
        boxes = d.boxes.astype(np.float64)
        scores = d.scores.astype(np.float64)
        ok = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
        ok &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        bad = int(len(ok) - ok.sum())
        if bad:
            self.skipped_detections += bad
            log.debug("skipped %d invalid detections (non-finite or empty boxes)", bad)
        ok &= scores >= _score_threshold(self.config.low_score)  # below it: ignored, not invalid
        return _Dets(boxes[ok], scores[ok], d.class_ids[ok].astype(np.int64))

    def _predict(self, dt: float) -> None:
        t = self._t
        t.x, t.P = self._box_model.predict(t.x, t.P, dt, self._box_accel_var(t.x, t.box_q))
        self._ground.predict(t, dt)

    def _compensate(self, locator: GroundLocator | None) -> None:
        """Ego-motion compensation: the image motion of the vehicle's own movement since the previous
        image applied to the predicted and the last observed boxes (``core/world/image_motion.py``)."""
        previous, self._last_locator = self._last_locator, locator
        motion = image_motion(previous, locator) if self.config.ego_motion_compensation else None
        t = self._t
        if motion is None or len(t.x) == 0:
            return
        n = len(t.x)
        # One warp call for the three box sets: (3N, 4) rows predicted, observed state, observed box.
        warped = motion.warp_cxcywh(np.concatenate([t.x[:, :4], t.x_obs[:, :4], xyxy_to_cxcywh(t.obs_box)]))
        t.x[:, :4], t.x_obs[:, :4] = warped[:n], warped[n : 2 * n]
        t.obs_box[:] = cxcywh_to_xyxy(warped[2 * n :])

    def _candidates(self, dets: _Dets, prev_s: float) -> Candidates:
        t, cfg = self._t, self.config
        high = dets.scores >= _score_threshold(cfg.high_score)
        recent = t.confirmed & (prev_s - t.last_s <= cfg.low_stage_max_gap_s + _EPS_S)
        if cfg.low_stage_confident_only:
            # Median matched score >= high_score: a confidently seen object in a score dip, not a track
            # mostly made of weak detections (the detector's false positives are).
            recent &= 2 * t.high_hits >= t.hits
        return Candidates(
            tracks={
                TrackSet.CONFIRMED: t.confirmed,
                TrackSet.RECENT: recent,
                TrackSet.TENTATIVE: ~t.confirmed,
            },
            detections={DetectionSet.HIGH: high, DetectionSet.LOW: ~high},
            boxes={TrackBox.PREDICTED: cxcywh_to_xyxy(t.x), TrackBox.OBSERVED: t.obs_box},
            track_classes=t.class_ids,
            det_boxes=dets.boxes,
            det_classes=dets.classes,
            det_scores=dets.scores,
        )

    def _update(self, ti: I64, boxes: F64, scores: F64, stamp_s: float) -> None:
        if len(ti) == 0:
            return
        cfg, t = self.config, self._t
        gaps = stamp_s - t.last_s[ti]
        re = t.confirmed[ti] & (gaps > cfg.reupdate_min_gap_s + _EPS_S)
        if re.any():
            self._reupdate(ti[re], boxes[re], gaps[re])
        z = xyxy_to_cxcywh(boxes)
        t.x[ti], t.P[ti] = self._box_model.update(t.x[ti], t.P[ti], z, self._box_cov(z[:, 3]))
        t.x_obs[ti], t.P_obs[ti] = t.x[ti], t.P[ti]
        t.obs_box[ti] = boxes
        t.scores[ti] = scores
        t.last_s[ti] = stamp_s
        t.hits[ti] += 1
        high = scores >= _score_threshold(cfg.high_score)
        t.high_hits[ti] += high
        was_confirmed = t.confirmed[ti]  # (M,) a copy: fancy indexing
        self._consistency.add(int(high[was_confirmed].sum()), int(was_confirmed.sum()))
        t.confirmed[ti] = was_confirmed | (t.hits[ti] >= cfg.min_hits)

    def _reupdate(self, idx: I64, boxes: F64, gaps_s: F64) -> None:
        """Re-run the filters of tracks ``idx`` from their last update over boxes interpolated linearly
        to the new ``boxes`` (OC-SORT's virtual trajectory), in steps of about ``reupdate_step_s``;
        tracks with the same number of steps are processed together."""
        t, model, cfg = self._t, self._box_model, self.config
        steps = np.clip(np.round(gaps_s / cfg.reupdate_step_s), 1, cfg.reupdate_max_steps).astype(np.int64)
        for n in np.unique(steps).tolist():
            g = steps == n
            sel = idx[g]
            x, P, box_q = t.x_obs[sel], t.P_obs[sel], t.box_q[sel]
            z0, z1 = xyxy_to_cxcywh(t.obs_box[sel]), xyxy_to_cxcywh(boxes[g])
            # One common step per group keeps the batch; per-track step lengths differ by < 1 step.
            step = float(np.mean(gaps_s[g])) / n
            for k in range(1, n):
                x, P = model.predict(x, P, step, self._box_accel_var(x, box_q))
                z = z0 + (z1 - z0) * (k / n)
                x, P = model.update(x, P, z, self._box_cov(z[:, 3]))
            x, P = model.predict(x, P, step, self._box_accel_var(x, box_q))
            t.x[sel], t.P[sel] = x, P

    def _unmatched_confident(self, dets: _Dets, matched: I64) -> I64:
        free = np.ones(len(dets.scores), bool)
        free[matched] = False
        return np.flatnonzero(free & (dets.scores >= _score_threshold(self.config.birth_score)))

    def _consecutive(self) -> bool:
        """Whether confirmation needs consecutive images now (``confirm_consecutive``; docs/tracking.md)."""
        cfg = self.config
        if cfg.confirm_consecutive != "auto":
            return cfg.confirm_consecutive == "always"
        ratio = consecutive_delay_ratio(self._consistency.share(), cfg.min_hits)
        return ratio <= cfg.consecutive_max_delay_ratio

    def _lifecycle(self, stamp_s: float, prev_s: float) -> None:
        """Delete tracks unmatched, as of this stamp, for longer than their coast time (confirmed) or
        tentative gap, before they are predicted or matched: however long the gap between two images,
        no track outlives its coast time and no position is extrapolated beyond it. While confirmation
        needs consecutive images (``_consecutive``) a tentative track not matched in the previous image
        (``prev_s``) is deleted too, at any frame rate. The ground state of a track whose boxes match
        without valid ground fixes expires the same way."""
        t, cfg = self._t, self.config
        since = stamp_s - t.last_s
        limit = np.where(t.confirmed, cfg.max_coast_s, cfg.max_tentative_gap_s)
        alive = since <= limit + _EPS_S
        if self._consecutive():
            alive &= t.confirmed | (t.last_s >= prev_s - _EPS_S)
        if not alive.all():
            t.keep(alive)
        self._ground.expire(t, stamp_s)

    def _birth(self, dets: _Dets, fix: GroundFix, stamp_s: float, first_image: bool = False) -> None:
        n = len(dets.scores)
        if n == 0:
            return
        cfg = self.config
        slow = np.isin(dets.classes, _SLOW_CLASSES)
        centre = np.where(slow, cfg.pedestrian_accel_noise_hps2, cfg.accel_noise_hps2)
        size = np.full(n, cfg.size_accel_noise_hps2)
        z = xyxy_to_cxcywh(dets.boxes)
        P = np.zeros((n, 8, 8))
        P[:, :4, :4] = self._box_cov(z[:, 3])
        ax = np.arange(4, 8)
        P[:, ax, ax] = ((cfg.initial_velocity_hps * z[:, 3]) ** 2)[:, None]
        x = np.concatenate([z, np.zeros((n, 4))], axis=1)
        new = TrackStore(
            ids=np.arange(self._next_id, self._next_id + n, dtype=np.int64),
            class_ids=dets.classes,
            scores=dets.scores,
            first_s=np.full(n, stamp_s),
            last_s=np.full(n, stamp_s),
            hits=np.ones(n, np.int64),
            high_hits=(dets.scores >= _score_threshold(cfg.high_score)).astype(np.int64),
            confirmed=np.full(n, cfg.min_hits <= 1 or (first_image and cfg.confirm_first_image)),
            slow=slow,
            box_q=np.stack([centre, centre, size, size], axis=1) ** 2,
            x=x,
            P=P,
            x_obs=x.copy(),
            P_obs=P.copy(),
            obs_box=dets.boxes.copy(),
        )
        self._next_id += n
        self._ground.init_rows(new, fix, stamp_s)
        self._t.append(new)

    def _output(self, stamp_s: float) -> list[Track]:
        t = self._t
        boxes = list(cxcywh_to_xyxy(t.x).astype(np.float32))
        vel = list(t.x[:, 4:6].astype(np.float32))
        since = stamp_s - t.last_s
        states = np.where(t.confirmed, np.where(since <= 0.0, TrackState.CONFIRMED, TrackState.COASTING), 0)
        state_of = list(TrackState)
        # A track confirmed before min_hits matches (confirm_first_image) keeps its ground state to itself
        # until it has min_hits of them: a ground position from one or two fixes still jumps by metres at
        # range, and world-frame consumers (fusion, planning) keep the evidence they always had.
        early = t.confirmed & (t.hits < self.config.min_hits)
        ground = _ground_states(t, t.g_valid & ~early)
        out = []
        # Python scalars and row views made in bulk (tolist, list(array)): this loop dominates a step
        # with many tracks.
        for k, (tid, cid, st, score, first, hits, dt_since) in enumerate(
            zip(
                t.ids.tolist(),
                t.class_ids.tolist(),
                states.tolist(),
                t.scores.tolist(),
                t.first_s.tolist(),
                t.hits.tolist(),
                since.tolist(),
            )
        ):
            out.append(
                Track(
                    tid,
                    cid,
                    state_of[st],
                    boxes[k],
                    vel[k],
                    score,
                    stamp_s,
                    stamp_s - first,
                    hits,
                    dt_since,
                    ground[k],
                    t.history[k].view(),
                )
            )
        return out

    # ------------------------------------------------------------------------------------ helpers
    @staticmethod
    def _box_accel_var(x: F64, box_q: F64) -> F64:
        """(N, 4) white-acceleration variances of [cx, cy, w, h], px^2 / s^4: they scale with the box."""
        result: F64 = np.maximum(x[:, 3:4], 1.0) ** 2 * box_q
        return result

    def _box_cov(self, h: F64) -> F64:
        var = (self.config.measurement_noise_h * np.maximum(h, 1.0)) ** 2
        result: F64 = var[:, None, None] * _EYE4
        return result


def _score_threshold(threshold: float) -> float:
    """A score threshold as the detections hold it: scores are float32, so a detection scored 0.7
    (0.699999988 in float32) passes a 0.7 threshold."""
    return float(np.float32(threshold))


def _rows_of(fix: GroundFix, rows: slice) -> GroundFix:
    bounded = None if fix.bounded is None else fix.bounded[rows]
    return GroundFix(fix.xy_m[rows], fix.cov_m2[rows], fix.valid[rows], bounded)


def _ground_states(t: TrackStore, published: BoolArray) -> list[GroundState | None]:
    """One ``GroundState`` per track where ``published`` (N,) (copies: snapshots outlive the step)."""
    gx, gP = t.gx.copy(), t.gcov.copy()
    return [
        GroundState(p, v, c) if ok else None
        for p, v, c, ok in zip(list(gx[:, :2]), list(gx[:, 2:]), list(gP), published.tolist())
    ]
