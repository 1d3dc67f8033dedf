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

import math
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


class _History:
    """Fused positions, rows ``[stamp_s, x_m, y_m]`` with increasing stamps, oldest first, in one array
    that grows by doubling: appending and trimming are index moves, the snapshot one copy."""

    def __init__(self) -> None:
        self._rows: F64 = np.empty((16, 3))
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    def view(self) -> F64:
        return self._rows[self._start : self._end]

    def append(self, stamp_s: float, x_m: float, y_m: float) -> None:
        if self._end == len(self._rows):
            live = self.view()
            rows = np.empty((max(16, 2 * len(live)), 3))
            rows[: len(live)] = live
            self._rows, self._start, self._end = rows, 0, len(live)
        self._rows[self._end] = (stamp_s, x_m, y_m)
        self._end += 1

    def drop_before(self, stamp_s: float) -> None:
        """Drop the rows older than ``stamp_s``."""
        self._start += int(np.searchsorted(self.view()[:, 0], stamp_s, side="left"))


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
    history: _History = field(default_factory=_History)


def _published(track: Track) -> bool:
    if track.state not in (TrackState.CONFIRMED, TrackState.COASTING) or track.ground is None:
        return False
    return all(math.isfinite(v) for v in np.asarray(track.ground.position_m).ravel().tolist())


_CATEGORY_CODE = {c: i for i, c in enumerate(Category)}
_UNKNOWN_CODE = _CATEGORY_CODE[Category.UNKNOWN]


def _compatible(a: int, b: int) -> bool:
    ca, cb = category_of(a), category_of(b)
    return ca == cb or Category.UNKNOWN in (ca, cb)


def _compatible_table(a: Sequence[int], b: Sequence[int]) -> npt.NDArray[np.bool_]:
    """``_compatible`` of every pair of class ids (len(a), len(b))."""
    ca = np.array([_CATEGORY_CODE[category_of(c)] for c in a], dtype=np.int64)[:, None]
    cb = np.array([_CATEGORY_CODE[category_of(c)] for c in b], dtype=np.int64)[None, :]
    return (ca == cb) | (ca == _UNKNOWN_CODE) | (cb == _UNKNOWN_CODE)


def _matched_now(m: _Member, stamp_s: float) -> bool:
    """Reported in the update at ``stamp_s`` and matched to a detection in its camera's image."""
    return m.track.time_since_update_s <= 1e-9 and abs(m.stamp_s - stamp_s) <= 1e-9


def _quadratic(v: F64, S: F64) -> F64:
    """``v @ solve(S, v)`` of each row: v (..., 2), S (..., 2, 2) -> (...). The batched solve and the
    (1, 2) @ (2, 1) products are, per row, the same LAPACK/BLAS calls as one 1-D ``v @ solve(S, v)``
    (bit for bit: the fused list does not change with the number of objects in a batch)."""
    x = np.linalg.solve(S, v[..., None])  # (..., 2, 1)
    return (v[..., None, :] @ x)[..., 0, 0]


def _tracks_ground(tracks: Sequence[Track]) -> tuple[F64, F64]:
    """Positions (T, 2) and position covariances (T, 2, 2) of tracks with a ground state."""
    grounds = [t.ground for t in tracks if t.ground is not None]
    assert len(grounds) == len(tracks)
    pos = np.array([np.asarray(g.position_m) for g in grounds]).reshape(len(grounds), 2)
    cov = np.array([np.asarray(g.covariance)[:2, :2] for g in grounds]).reshape(len(grounds), 2, 2)
    return pos, cov


class ObjectFusion:
    """``update({camera: tracks}, stamp_s)`` -> the fused object list at ``stamp_s``.

    Every step works on all objects (or object-track pairs) at once in numpy; per object, the numbers
    are exactly those of one object alone (``_quadratic``), so batching changes no output."""

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
        self._fuse(self._objects, stamp_s)
        self._merge(stamp_s)
        self._expire(stamp_s)
        return self._publish(stamp_s)

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
        published = {cam: [t for t in tracks if _published(t)] for cam, tracks in camera_tracks.items()}
        reported = {(cam, t.track_id) for cam, tracks in published.items() for t in tracks}
        for key, obj in list(self._owner.items()):
            m = obj.members[key]
            silent = key[0] not in camera_tracks and stamp_s - m.stamp_s > self.config.member_timeout_s
            if (key[0] in camera_tracks and key not in reported) or silent:
                self._unbind(key)
        seen = [(cam, t) for cam, tracks in published.items() for t in tracks]
        owners = [self._owner.get((cam, t.track_id)) for cam, t in seen]
        bound = [(o, t) for o, (_, t) in zip(owners, seen) if o is not None]
        in_gate = iter(self._in_gate([o for o, _ in bound], [t for _, t in bound]).tolist())
        unbound: dict[str, list[Track]] = {}
        for (cam, t), gated_owner in zip(seen, owners):
            key = (cam, t.track_id)
            ok = next(in_gate) if gated_owner is not None else False
            owner = self._owner.get(key)  # a repeated track id may have been unbound just before
            if owner is not None and owner is gated_owner and ok:
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

    def _fuse(self, objects: Sequence[_Object], stamp_s: float) -> None:
        """Information-weighted mean of each object's members' states, each predicted to ``stamp_s``:
        the members of all objects inverted in one batch, summed per object in member order."""
        objs = [o for o in objects if o.members]
        if not objs:
            return
        members = [m for o in objs for m in o.members.values()]
        slot = np.array([j for o in objs for j in range(len(o.members))])  # member's index in its object
        owner = np.repeat(np.arange(len(objs)), [len(o.members) for o in objs])
        x, P = self._member_states(members, stamp_s)
        inv = np.linalg.inv(P)  # (M, 4, 4)
        inv_x = (inv @ x[:, :, None])[:, :, 0]  # (M, 4)
        info, vec = np.zeros((len(objs), 4, 4)), np.zeros((len(objs), 4))
        for j in range(int(slot.max()) + 1):  # 0 + first member + second ... as one object alone
            sel = slot == j
            info[owner[sel]] += inv[sel]
            vec[owner[sel]] += inv_x[sel]
        P_fused = np.asarray(np.linalg.inv(info), dtype=np.float64)
        x_fused = (P_fused @ vec[:, :, None])[:, :, 0]
        for o, Pi, xi in zip(objs, P_fused, x_fused):
            o.P, o.x = Pi, xi
            matched = [m for m in o.members.values() if _matched_now(m, stamp_s)]
            if matched:
                o.last_seen_s = stamp_s
                o.score = max(m.track.score for m in matched)
            o.class_id = max(o.members.values(), key=lambda m: m.track.hits).track.class_id

    def _merge(self, stamp_s: float) -> None:
        """Merge pairs of objects closer than ``merge_m`` that no camera sees as two (older id wins).

        Pairs in id order; the distances of all pairs at once, an object's row again after it took
        another (the objects after it in the order do not move during its row)."""
        objs = sorted(self._objects, key=lambda o: o.object_id)
        if len(objs) < 2:
            return
        xy = np.array([o.x[:2] for o in objs])  # (N, 2)
        gone: set[int] = set()
        for i, a in enumerate(objs):
            if i in gone:
                continue
            j = i
            while True:
                j = self._next_merge(a, objs, xy, i, j + 1, gone, stamp_s)
                if j < 0:
                    break
                self._take(a, objs[j], stamp_s)
                gone.add(j)
                xy[i] = a.x[:2]

    def _next_merge(
        self, a: _Object, objs: list[_Object], xy: F64, i: int, start: int, gone: set[int], stamp_s: float
    ) -> int:
        """Index >= ``start`` of the first object ``a`` (at ``i``) merges with, or -1."""
        dist = np.hypot(xy[i, 0] - xy[start:, 0], xy[i, 1] - xy[start:, 1])
        for k in np.flatnonzero(dist <= self.config.merge_m).tolist():
            j, b = start + k, objs[start + k]
            if j in gone or not (a.members and b.members) or not _compatible(a.class_id, b.class_id):
                continue
            cams_a = {k[0] for k, m in a.members.items() if _matched_now(m, stamp_s)}
            cams_b = {k[0] for k, m in b.members.items() if _matched_now(m, stamp_s)}
            if not cams_a & cams_b:
                return j
        return -1

    def _take(self, a: _Object, b: _Object, stamp_s: float) -> None:
        """``b``'s members join ``a``; ``b`` is gone."""
        for key in list(b.members):
            self._bind(a, key[0], b.members[key].track, b.members[key].stamp_s)
        a.first_s = min(a.first_s, b.first_s)
        self._objects = [o for o in self._objects if o is not b]
        self._fuse([a], stamp_s)
        self.merged += 1

    def _expire(self, stamp_s: float) -> None:
        keep_s = self.config.max_coast_s
        self._objects = [o for o in self._objects if o.members or stamp_s - o.last_seen_s <= keep_s + 1e-9]

    def _publish(self, stamp_s: float) -> list[FusedObject]:
        """History advance and stationary hysteresis once per update; then the frozen snapshots."""
        objs = self._objects
        if not objs:
            return []
        keep_from = stamp_s - self.config.history_s
        for o in objs:
            if not len(o.history) or stamp_s > o.history.view()[-1, 0]:
                o.history.append(stamp_s, float(o.x[0]), float(o.x[1]))
            o.history.drop_before(keep_from)
        x = np.array([o.x for o in objs])  # (N, 4)
        v = x[:, 2:]
        # Is the velocity distinguishable from zero given its own covariance? A young or far object's
        # speed can be large and still say nothing. (N,) squared Mahalanobis distances of v from 0.
        d2 = _quadratic(v, np.array([o.P[2:, 2:] for o in objs]) + 1e-6 * np.eye(2)).tolist()
        speeds = np.hypot(x[:, 2], x[:, 3]).tolist()
        out = []
        for o, speed, v2 in zip(objs, speeds, d2):
            self._update_stationary(o, speed, v2 > self.config.stationary_chi2, stamp_s)
            vel = _significant_velocity(o.x[2:].copy(), v2) if o.stationary else o.x[2:].copy()
            out.append(self._snapshot(o, vel, stamp_s))
        return out

    # ---------------------------------------------------------------------------------- helpers
    def _has_matched_member(self, obj: _Object, camera: str, stamp_s: float) -> bool:
        return any(k[0] == camera and _matched_now(m, stamp_s) for k, m in obj.members.items())

    def _gate_terms(
        self, objs: Sequence[_Object], pos: F64, cov: F64, pairs: npt.NDArray[np.bool_] | None = None
    ) -> tuple[F64, F64]:
        """Squared Mahalanobis distance and ground distance of objects (N,) to tracks at ``pos``
        (..., 2) with position covariance ``cov`` (..., 2, 2), broadcast against (N, 1, ...). Pairs
        outside ``pairs`` (e.g. across classes) get a unit covariance: never solved as one alone was."""
        ox = np.array([o.x[:2] for o in objs]).reshape(len(objs), 2)
        oP = np.array([o.P[:2, :2] for o in objs]).reshape(len(objs), 2, 2)
        shape = (len(objs),) + (1,) * (pos.ndim - 2) if pos.ndim > 2 else (len(objs),)
        d = pos - ox.reshape(*shape, 2)
        S = oP.reshape(*shape, 2, 2) + cov + (2 * self.config.position_floor_m**2) * np.eye(2)
        if pairs is not None:
            S = np.where(pairs[..., None, None], S, np.eye(2))
        return _quadratic(d, S), np.hypot(d[..., 0], d[..., 1])

    def _in_gate(self, objs: list[_Object], tracks: list[Track]) -> npt.NDArray[np.bool_]:
        """(N,) whether each track is within its object's gate (pairs, not a table)."""
        if not objs:
            return np.zeros(0, dtype=bool)
        pos, cov = _tracks_ground(tracks)
        m2, dist = self._gate_terms(objs, pos, cov)
        return (dist <= self.config.gate_m) & (m2 <= self.config.gate_chi2)

    def _cost(self, objs: list[_Object], tracks: list[Track]) -> F64:
        """(O, T) squared Mahalanobis distances, ``GATED`` outside the gates or across classes."""
        if not objs or not tracks:
            return np.full((len(objs), len(tracks)), GATED)
        pos, cov = _tracks_ground(tracks)
        ok = _compatible_table([o.class_id for o in objs], [t.class_id for t in tracks])
        m2, dist = self._gate_terms(objs, pos[None], cov[None], ok)
        m2 = np.where(ok, m2, GATED)
        gated = ok & (m2 <= self.config.gate_chi2) & (dist <= self.config.gate_m)
        return np.where(gated, m2, GATED)

    def _member_states(self, members: list[_Member], stamp_s: float) -> tuple[F64, F64]:
        """States (M, 4) and covariances (M, 4, 4) of members, each predicted to ``stamp_s``."""
        grounds = [m.track.ground for m in members]
        x = np.array([np.concatenate([g.position_m, g.velocity_mps]) for g in grounds])  # type: ignore[union-attr]
        x = x.astype(np.float64).reshape(len(members), 4)
        P = np.array([np.asarray(g.covariance, dtype=np.float64) for g in grounds])  # type: ignore[union-attr]
        for j, m in enumerate(members):
            dt = stamp_s - m.track.stamp_s
            if dt > 0:  # a camera's frame older than the update: one member at a time, as before
                q = np.full((1, 2), self.config.accel_mps2**2)
                xs, Ps = self._model.predict(x[j][None], P[j][None], dt, q)
                x[j], P[j] = xs[0], Ps[0]
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

    def _update_stationary(self, obj: _Object, speed: float, moving_sig: bool, stamp_s: float) -> None:
        """Hysteresis on the fused speed, its significance (``moving_sig``), and the speed over a
        longer baseline.

        The filtered velocity answers within a fraction of a second but carries what slides the fixes
        (a parked car's box foot moving along its body as the view turns); the displacement over
        ``stationary_baseline_s`` of history averages that out, so an object whose position has not
        moved over the baseline enters ``stationary`` even when its instantaneous speed wavers.
        """
        cfg = self.config
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
        rows = obj.history.view()
        if span <= 0 or not len(rows):
            return None
        # The newest row at least ``span`` old (stamps increase): none when the history is shorter.
        i = int(np.searchsorted(rows[:, 0], stamp_s - span + 1e-6, side="right")) - 1
        if i < 0:
            return None
        then, now = rows[i].tolist(), rows[-1].tolist()
        return float(np.hypot(now[1] - then[1], now[2] - then[2]) / max(now[0] - then[0], 1e-6))

    def _snapshot(self, obj: _Object, velocity_mps: F64, stamp_s: float) -> FusedObject:
        cameras = tuple(sorted({k[0] for k, m in obj.members.items() if _matched_now(m, stamp_s)}))
        return FusedObject(
            object_id=obj.object_id, class_id=obj.class_id, stamp_s=stamp_s,
            ground=GroundState(obj.x[:2].copy(), velocity_mps, obj.P.copy()),
            is_stationary=obj.stationary, cameras=cameras, age_s=stamp_s - obj.first_s,
            time_since_update_s=stamp_s - obj.last_seen_s, score=obj.score, history=obj.history.view().copy(),
        )  # fmt: skip


def _significant_velocity(v_mps: F64, d2: float) -> F64:
    """The velocity (2,) weighted by the probability that it differs from zero given its covariance.

    ``d2`` is the squared Mahalanobis distance of ``v`` from zero (covariance plus 1e-6 m^2/s^2); the
    weight is its chi^2 (2 dof) CDF, ``1 - exp(-d2 / 2)``: a clearly moving object keeps its velocity
    (weight -> 1), while a parked or young object whose filtered velocity is within its own noise is
    published near zero instead of at the noise's magnitude. The filter state itself is not changed.
    Only stationary objects are shrunk: a young moving object's velocity is also not yet significant,
    and shrinking it costs the moving speed error more than it gains.
    """
    return v_mps * (1.0 - np.exp(-0.5 * d2))
