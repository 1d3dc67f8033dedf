"""Cross-camera fusion: per-camera tracks (ground state in one fixed frame) -> one object list.

Each camera's tracker keeps its own tracks. Every ``update`` (one or more cameras' current tracks at a
stamp) reads as:

1. predict every fused object to the stamp (constant velocity, white-acceleration noise);
2. refresh the members: a camera track already bound to an object stays bound (the camera tracker
   made that decision) unless it left the object's gate; tracks the camera no longer reports leave;
3. associate the unbound tracks, one camera at a time, to the objects in the ground plane: squared
   Mahalanobis distance of the positions (both covariances plus a floor), gated in chi^2 and in
   metres, class-compatible, Hungarian; an object takes at most one *matched* track per camera (a
   camera's coasting track is replaced by its new one: re-acquisition after a gap keeps the id).
   Unassociated tracks start new objects. So one object keeps one id whichever cameras see it and
   is handed over as it moves between fields of view;
4. fused state = information-weighted mean of the members' states ``[x, y, vx, vy]`` (camera errors
   are independent: different images); objects with no member coast on their prediction;
5. two objects no camera tells apart (close, no camera with a matched track in both) merge, the older
   id wins; objects without members for ``max_coast_s`` are deleted;
6. ``is_stationary`` from the fused speed with hysteresis: an object becomes stationary below
   ``stationary_enter_mps``, or below ``stationary_exit_mps`` when its velocity is not significantly
   different from zero (squared Mahalanobis distance under ``stationary_chi2``); it moves again above
   ``stationary_exit_mps`` with a significant velocity. A stationary object publishes its velocity
   weighted by the probability that it differs from zero (chi^2 CDF of that distance), so filter
   noise on a parked object is not published as motion; the filter state is unchanged.

Ids are per ``ObjectFusion`` instance. Positions are in whatever frame the tracks are in (``odom`` with
ego poses, ``base_link`` without); the caller names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lepton_perception.core.schema import param
from lepton_perception.core.tracking.association import GATED, linear_assignment
from lepton_perception.core.tracking.motion import ConstantVelocityModel
from lepton_perception.core.types import Category, GroundState, Track, TrackState, category_of

F64 = npt.NDArray[np.float64]
MemberKey = tuple[str, int]  # (camera, per-camera track id)


@dataclass(frozen=True)
class FusionConfig:
    gate_chi2: float = param(
        13.8,
        "association gate on the squared Mahalanobis distance (chi^2, 2 dof; 13.8 = 99.9 %)",
        lo=1.0,
        hi=100.0,
    )
    gate_m: float = param(5.0, "association gate on the ground distance", unit="m", lo=0.1, hi=50.0)
    position_floor_m: float = param(
        0.5, "std added to both positions when associating (shape, calibration)", unit="m", lo=0.0, hi=5.0
    )
    merge_m: float = param(
        1.5, "objects closer than this that no camera tells apart merge", unit="m", lo=0.0, hi=10.0
    )
    accel_mps2: float = param(
        3.0, "white-acceleration std for predicting objects", unit="m/s^2", lo=0.01, hi=20.0
    )
    max_coast_s: float = param(
        1.0, "an object no camera reports for this long is deleted", unit="s", lo=0.0, hi=10.0
    )
    member_timeout_s: float = param(
        0.5, "a camera silent this long no longer contributes its tracks", unit="s", lo=0.0, hi=10.0
    )
    stationary_enter_mps: float = param(
        0.6, "an object becomes stationary below this speed", unit="m/s", lo=0.0, hi=5.0
    )
    stationary_exit_mps: float = param(
        1.2, "a stationary object moves again above this speed", unit="m/s", lo=0.0, hi=10.0
    )
    stationary_chi2: float = param(
        5.99,
        "a velocity within this squared Mahalanobis distance of zero (chi^2, 2 dof; 5.99 = 95 %) "
        "counts as not significantly moving",
        lo=0.0,
        hi=50.0,
    )
    stationary_baseline_s: float = param(
        2.0,
        "baseline of the displacement speed that also decides stationary (0 = off)",
        unit="s",
        lo=0.0,
        hi=10.0,
    )
    history_s: float = param(8.0, "fused position history kept for prediction", unit="s", lo=0.0, hi=60.0)

    def __post_init__(self) -> None:
        if self.stationary_exit_mps < self.stationary_enter_mps:
            raise ValueError(f"stationary_exit_mps must be >= stationary_enter_mps: {self}")


@dataclass(frozen=True)
class FusedObject:
    """One object of the fused list at ``stamp_s``, in the fusion's frame."""

    object_id: int  # unique within one ObjectFusion
    class_id: int  # COCO class id of the member with the most hits
    stamp_s: float
    ground: GroundState  # fused [x, y, vx, vy] with (4, 4) covariance
    is_stationary: bool
    cameras: tuple[str, ...]  # cameras with a matched track on it now (empty: coasting)
    age_s: float
    time_since_update_s: float
    score: float
    history: F64  # (K, 3) rows [stamp_s, x_m, y_m], oldest first

    @property
    def category(self) -> Category:
        return category_of(self.class_id)

    def as_track(self) -> Track:
        """The object as a ``Track`` (no image box) for the predictor and the message conversions."""
        state = TrackState.CONFIRMED if self.cameras else TrackState.COASTING
        return Track(
            track_id=self.object_id, class_id=self.class_id, state=state,
            box=np.zeros(4, np.float32), box_velocity_pxps=np.zeros(2, np.float32), score=self.score,
            stamp_s=self.stamp_s, age_s=self.age_s, hits=1,
            time_since_update_s=self.time_since_update_s, ground=self.ground, history=self.history,
        )  # fmt: skip


@dataclass
class _Member:
    track: Track  # its state is at ``track.stamp_s`` (cameras' images arrive at their own stamps)
    stamp_s: float  # stamp of the fusion update that reported it


@dataclass
class _Object:
    object_id: int
    x: F64  # (4,) [x, y, vx, vy]
    P: F64  # (4, 4)
    first_s: float
    last_seen_s: float  # last stamp a member was matched by its camera
    members: dict[MemberKey, _Member] = field(default_factory=dict)
    class_id: int = -1
    score: float = 0.0
    stationary: bool = False
    history: list[tuple[float, float, float]] = field(default_factory=list)


def _published(track: Track) -> bool:
    ok = track.state in (TrackState.CONFIRMED, TrackState.COASTING) and track.ground is not None
    return ok and bool(np.isfinite(track.ground.position_m).all())  # type: ignore[union-attr]


def _compatible(a: int, b: int) -> bool:
    ca, cb = category_of(a), category_of(b)
    return ca == cb or Category.UNKNOWN in (ca, cb)


def _matched_now(m: _Member, stamp_s: float) -> bool:
    """Reported in the update at ``stamp_s`` and matched to a detection in its camera's image."""
    return m.track.time_since_update_s <= 1e-9 and abs(m.stamp_s - stamp_s) <= 1e-9


class ObjectFusion:
    """``update({camera: tracks}, stamp_s)`` -> the fused object list at ``stamp_s``."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        self.config = config or FusionConfig()
        self._model = ConstantVelocityModel(2)
        self._objects: list[_Object] = []
        self._owner: dict[MemberKey, _Object] = {}
        self._next_id = 1
        self._stamp_s: float | None = None
        self.merged = 0  # objects merged into another (duplicates caught late), counted

    def update(self, camera_tracks: Mapping[str, Sequence[Track]], stamp_s: float) -> list[FusedObject]:
        if self._stamp_s is not None and stamp_s < self._stamp_s:
            raise ValueError(f"time went backwards: {stamp_s:.6f} s < {self._stamp_s:.6f} s")
        dt = 0.0 if self._stamp_s is None else stamp_s - self._stamp_s
        self._stamp_s = stamp_s
        self._predict(dt)
        unbound = self._refresh_members(camera_tracks, stamp_s)
        for camera in sorted(unbound):
            self._associate(camera, unbound[camera], stamp_s)
        for obj in self._objects:
            self._fuse(obj, stamp_s)
        self._merge(stamp_s)
        self._expire(stamp_s)
        return [self._publish(o, stamp_s) for o in self._objects]

    # ------------------------------------------------------------------------------------ steps
    def _predict(self, dt: float) -> None:
        if not self._objects or dt <= 0:
            return
        x = np.stack([o.x for o in self._objects])
        P = np.stack([o.P for o in self._objects])
        q = np.full((len(x), 2), self.config.accel_mps2**2)
        x, P = self._model.predict(x, P, dt, q)
        for o, xi, Pi in zip(self._objects, x, P):
            o.x, o.P = xi, Pi

    def _refresh_members(
        self, camera_tracks: Mapping[str, Sequence[Track]], stamp_s: float
    ) -> dict[str, list[Track]]:
        """Update bound members, drop vanished/silent ones; return the unbound tracks per camera."""
        reported = {
            (cam, t.track_id) for cam, tracks in camera_tracks.items() for t in tracks if _published(t)
        }
        for key, obj in list(self._owner.items()):
            m = obj.members[key]
            silent = key[0] not in camera_tracks and stamp_s - m.stamp_s > self.config.member_timeout_s
            if (key[0] in camera_tracks and key not in reported) or silent:
                self._unbind(key)
        unbound: dict[str, list[Track]] = {}
        for cam, tracks in camera_tracks.items():
            for t in filter(_published, tracks):
                key = (cam, t.track_id)
                owner = self._owner.get(key)
                if owner is not None and self._in_gate(owner, t):
                    owner.members[key] = _Member(t, stamp_s)
                    continue
                if owner is not None:
                    self._unbind(key)  # the camera track jumped to another object
                unbound.setdefault(cam, []).append(t)
        return unbound

    def _associate(self, camera: str, tracks: list[Track], stamp_s: float) -> None:
        objs = [o for o in self._objects if not self._has_matched_member(o, camera, stamp_s)]
        cost = self._cost(objs, tracks)
        rows, cols = linear_assignment(cost, GATED / 2) if cost.size else (np.zeros(0, int), np.zeros(0, int))
        taken = set(cols.tolist())
        for r, c in zip(rows.tolist(), cols.tolist()):
            self._bind(objs[r], camera, tracks[c], stamp_s)
        for c, t in enumerate(tracks):
            if c not in taken:
                self._bind(self._new_object(t, stamp_s), camera, t, stamp_s)

    def _fuse(self, obj: _Object, stamp_s: float) -> None:
        """Information-weighted mean of the members' states, each predicted to ``stamp_s``."""
        if not obj.members:
            return
        info: F64 = np.zeros((4, 4))
        vec: F64 = np.zeros(4)
        for m in obj.members.values():
            x, P = self._member_state(m, stamp_s)
            inv = np.linalg.inv(P)
            info += inv
            vec += inv @ x
        obj.P = np.asarray(np.linalg.inv(info), dtype=np.float64)
        obj.x = obj.P @ vec
        matched = [m for m in obj.members.values() if _matched_now(m, stamp_s)]
        if matched:
            obj.last_seen_s = stamp_s
            obj.score = max(m.track.score for m in matched)
        best = max(obj.members.values(), key=lambda m: m.track.hits)
        obj.class_id = best.track.class_id

    def _merge(self, stamp_s: float) -> None:
        """Merge pairs of objects closer than ``merge_m`` that no camera sees as two (older id wins)."""
        cfg = self.config
        objs = sorted(self._objects, key=lambda o: o.object_id)
        for i, a in enumerate(objs):
            for b in objs[i + 1 :]:
                if not (a.members and b.members) or b.object_id == a.object_id or not self._alive(a, b):
                    continue
                if float(np.hypot(*(a.x[:2] - b.x[:2]))) > cfg.merge_m or not _compatible(
                    a.class_id, b.class_id
                ):
                    continue
                cams_a = {k[0] for k, m in a.members.items() if _matched_now(m, stamp_s)}
                cams_b = {k[0] for k, m in b.members.items() if _matched_now(m, stamp_s)}
                if cams_a & cams_b:
                    continue
                for key in list(b.members):
                    self._bind(a, key[0], b.members[key].track, b.members[key].stamp_s)
                a.first_s = min(a.first_s, b.first_s)
                self._objects = [o for o in self._objects if o is not b]
                self._fuse(a, stamp_s)
                self.merged += 1

    def _expire(self, stamp_s: float) -> None:
        keep_s = self.config.max_coast_s
        self._objects = [o for o in self._objects if o.members or stamp_s - o.last_seen_s <= keep_s + 1e-9]

    # ---------------------------------------------------------------------------------- helpers
    def _alive(self, *objs: _Object) -> bool:
        return all(any(o is p for p in self._objects) for o in objs)

    def _has_matched_member(self, obj: _Object, camera: str, stamp_s: float) -> bool:
        return any(k[0] == camera and _matched_now(m, stamp_s) for k, m in obj.members.items())

    def _pos_cov(self, obj: _Object, track: Track) -> tuple[F64, F64]:
        """Position difference (2,) and its covariance (2, 2) between an object and a track."""
        assert track.ground is not None
        d = np.asarray(track.ground.position_m) - obj.x[:2]
        S = obj.P[:2, :2] + np.asarray(track.ground.covariance)[:2, :2]
        return d, S + (2 * self.config.position_floor_m**2) * np.eye(2)

    def _in_gate(self, obj: _Object, track: Track) -> bool:
        d, S = self._pos_cov(obj, track)
        return (
            float(np.hypot(*d)) <= self.config.gate_m
            and float(d @ np.linalg.solve(S, d)) <= self.config.gate_chi2
        )

    def _cost(self, objs: list[_Object], tracks: list[Track]) -> F64:
        cost = np.full((len(objs), len(tracks)), GATED)
        for i, o in enumerate(objs):
            for j, t in enumerate(tracks):
                if not _compatible(o.class_id, t.class_id):
                    continue
                d, S = self._pos_cov(o, t)
                m2 = float(d @ np.linalg.solve(S, d))
                if m2 <= self.config.gate_chi2 and float(np.hypot(*d)) <= self.config.gate_m:
                    cost[i, j] = m2
        return cost

    def _member_state(self, m: _Member, stamp_s: float) -> tuple[F64, F64]:
        assert m.track.ground is not None
        x = np.concatenate([m.track.ground.position_m, m.track.ground.velocity_mps]).astype(np.float64)
        P = np.asarray(m.track.ground.covariance, dtype=np.float64)
        dt = stamp_s - m.track.stamp_s
        if dt > 0:
            q = np.full((1, 2), self.config.accel_mps2**2)
            xs, Ps = self._model.predict(x[None], P[None], dt, q)
            x, P = xs[0], Ps[0]
        return x, P + 1e-9 * np.eye(4)

    def _new_object(self, track: Track, stamp_s: float) -> _Object:
        assert track.ground is not None
        x = np.concatenate([track.ground.position_m, track.ground.velocity_mps]).astype(np.float64)
        obj = _Object(self._next_id, x, np.array(track.ground.covariance, dtype=np.float64), stamp_s, stamp_s)
        obj.class_id = track.class_id
        self._next_id += 1
        self._objects.append(obj)
        return obj

    def _bind(self, obj: _Object, camera: str, track: Track, stamp_s: float) -> None:
        key = (camera, track.track_id)
        if key in self._owner and self._owner[key] is not obj:
            self._unbind(key)
        if _matched_now(_Member(track, stamp_s), stamp_s):
            # A camera's coasting track on this object is replaced by the camera's new, matched one.
            for old in [k for k, m in obj.members.items() if k[0] == camera and not _matched_now(m, stamp_s)]:
                self._unbind(old)
        obj.members[key] = _Member(track, stamp_s)
        self._owner[key] = obj
        if len(obj.members) == 1:
            obj.class_id = track.class_id

    def _unbind(self, key: MemberKey) -> None:
        obj = self._owner.pop(key, None)
        if obj is not None:
            obj.members.pop(key, None)

    def _update_stationary(self, obj: _Object, stamp_s: float) -> None:
        """Hysteresis on the fused speed, its significance, and the speed over a longer baseline.

        The filtered velocity answers within a fraction of a second but carries what slides the fixes
        (a parked car's box foot moving along its body as the view turns); the displacement over
        ``stationary_baseline_s`` of history averages that out, so an object whose position has not
        moved over the baseline enters ``stationary`` even when its instantaneous speed wavers.
        """
        cfg = self.config
        speed = float(np.hypot(obj.x[2], obj.x[3]))
        v = obj.x[2:]
        # Is the velocity distinguishable from zero given its own covariance? A young or far object's
        # speed can be large and still say nothing.
        moving_sig = float(v @ np.linalg.solve(obj.P[2:, 2:] + 1e-6 * np.eye(2), v)) > cfg.stationary_chi2
        baseline = self._baseline_speed(obj, stamp_s)
        slow_long = baseline is not None and baseline < cfg.stationary_enter_mps
        fast_long = baseline is None or baseline > cfg.stationary_exit_mps
        if obj.stationary and speed > cfg.stationary_exit_mps and moving_sig and fast_long:
            obj.stationary = False
        elif (
            not obj.stationary
            and (speed < cfg.stationary_enter_mps or not moving_sig or slow_long)
            and min(speed, np.inf if baseline is None else baseline) < cfg.stationary_exit_mps
        ):
            obj.stationary = True

    def _baseline_speed(self, obj: _Object, stamp_s: float) -> float | None:
        """Mean speed over the last ``stationary_baseline_s`` of history (None: history shorter)."""
        span = self.config.stationary_baseline_s
        if span <= 0 or not obj.history or obj.history[0][0] > stamp_s - span + 1e-6:
            return None
        then = next(h for h in reversed(obj.history) if h[0] <= stamp_s - span + 1e-6)
        now = obj.history[-1]
        return float(np.hypot(now[1] - then[1], now[2] - then[2]) / max(now[0] - then[0], 1e-6))

    def _publish(self, obj: _Object, stamp_s: float) -> FusedObject:
        """Stationary hysteresis and history advance once per update; then the frozen snapshot."""
        cfg = self.config
        if not obj.history or stamp_s > obj.history[-1][0]:
            obj.history.append((stamp_s, float(obj.x[0]), float(obj.x[1])))
        while obj.history and obj.history[0][0] < stamp_s - cfg.history_s:
            obj.history.pop(0)
        self._update_stationary(obj, stamp_s)
        cameras = tuple(sorted({k[0] for k, m in obj.members.items() if _matched_now(m, stamp_s)}))
        hist = np.array(obj.history, dtype=np.float64).reshape(-1, 3)
        return FusedObject(
            object_id=obj.object_id, class_id=obj.class_id, stamp_s=stamp_s,
            ground=GroundState(obj.x[:2].copy(), _published_velocity(obj), obj.P.copy()),
            is_stationary=obj.stationary, cameras=cameras, age_s=stamp_s - obj.first_s,
            time_since_update_s=stamp_s - obj.last_seen_s, score=obj.score, history=hist,
        )  # fmt: skip


def _published_velocity(obj: _Object) -> F64:
    """A moving object's filtered velocity; a stationary one's weighted by its significance.

    Only stationary objects are shrunk: a young moving object's velocity is also not yet
    significant, and shrinking it costs the moving speed error more than it gains.
    """
    v = obj.x[2:].copy()
    return _significant_velocity(v, obj.P[2:, 2:]) if obj.stationary else v


def _significant_velocity(v_mps: F64, cov_m2ps2: F64) -> F64:
    """The velocity (2,) weighted by the probability that it differs from zero given its covariance.

    The weight is the chi^2 (2 dof) CDF of the squared Mahalanobis distance of ``v`` from zero,
    ``1 - exp(-d2 / 2)``: a clearly moving object keeps its velocity (weight -> 1), while a parked or
    young object whose filtered velocity is within its own noise is published near zero instead of
    at the noise's magnitude. The filter state itself is not changed.
    """
    d2 = float(v_mps @ np.linalg.solve(cov_m2ps2 + 1e-6 * np.eye(2), v_mps))
    return v_mps * (1.0 - np.exp(-0.5 * d2))
