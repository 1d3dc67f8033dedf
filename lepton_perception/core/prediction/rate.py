"""Predictions at a planner's rate: a ``Predictor`` that runs its inner predictor at most every
``period_s`` and re-anchors the last paths in between.

A planner consumes paths at its own rate (Autoware's: 10 Hz), while a 30 Hz camera updates the objects
three times as often. Between two runs every object still gets a path for the current stamp: its
last predicted trajectory (the object's position at that prediction, then the path) is resampled at
the same offsets from the new stamp (linear extrapolation of its last segment past its end), and moved
so that it starts where the object is now (``history.anchor``: the Kalman ground position at the
stamp). An object without a cached path (new, re-classified, or an id now worn by another object) is
predicted at once, in one batch with the others that need it (they are each other's only social
context until the next run, which predicts everyone with everyone). Time going back, or a whole period
since the last run (within ``JITTER_S``: stamps of a 10 Hz camera are not exactly 0.1 s apart), runs the
inner predictor for everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lepton_perception.core.prediction.base import Predictor
from lepton_perception.core.prediction.data import F64
from lepton_perception.core.prediction.history import anchor, interp_rows_batch
from lepton_perception.core.types import PredictedPath, Track

JITTER_S = 1e-3  # a run is due this much before a whole period has passed


@dataclass(frozen=True)
class _Cached:
    birth_s: float  # stamp_s - age_s of the track: an id reused by another object does not match
    class_id: int
    stamp_s: float  # when it was predicted
    start_m: F64  # (2,) the object's anchored position then
    paths: tuple[PredictedPath, ...]


def reanchor(path: PredictedPath, made_s: float, start_m: F64, stamp_s: float, now_m: F64) -> PredictedPath:
    """``path`` (predicted at ``made_s`` from ``start_m``) as seen from ``stamp_s`` with the object at
    ``now_m``: same time offsets from the new stamp, shifted by the object's deviation from it."""
    return reanchor_batch([path], made_s, np.asarray(start_m)[None], stamp_s, np.asarray(now_m)[None])[0]


def reanchor_batch(
    paths: Sequence[PredictedPath], made_s: float, start_m: F64, stamp_s: float, now_m: F64
) -> list[PredictedPath]:
    """``reanchor`` of G paths on one time grid (the same ``times_s``, predicted at ``made_s``) with
    their (G, 2) ``start_m`` and (G, 2) ``now_m``, in one set of array operations: each path's old
    position at ``stamp_s`` and along its offsets (``interp_rows`` row for row), shifted by the
    object's deviation ``now_m`` - old position."""
    times_s = np.asarray(paths[0].times_s, dtype=np.float64)
    offsets = times_s - made_s  # (T,) s
    times = np.concatenate(([made_s], times_s))  # (T+1,)
    points = np.concatenate(
        (start_m[:, None], np.array([p.positions_m for p in paths])), axis=1
    )  # (G, T+1, 2)
    query = np.concatenate(([stamp_s], stamp_s + offsets))
    moved = interp_rows_batch(times, points, query)  # (G, T+1, 2): [:, 0] = where the old paths put them
    positions = moved[:, 1:] + (now_m - moved[:, 0])[:, None]
    return [
        PredictedPath(p.track_id, stamp_s + offsets, xy, p.confidence, p.predictor)  # a times array each
        for p, xy in zip(paths, positions)
    ]


def _anchors(tracks: Sequence[Track], stamp_s: float) -> F64:
    """``anchor(t, stamp_s)[0]`` of each track, (N, 2)."""
    return np.array([anchor(t, stamp_s)[0] for t in tracks], dtype=np.float64).reshape(len(tracks), 2)


class PlannerRatePredictor:
    """Implements ``Predictor``: ``inner`` at most every ``period_s`` (0: every call), re-anchored paths
    in between (module doc). One instance per object stream: it caches paths by track id."""

    def __init__(self, inner: Predictor, period_s: float) -> None:
        if period_s < 0:
            raise ValueError(f"period_s must be >= 0, got {period_s}")
        self.inner = inner
        self.name = inner.name
        self.period_s = period_s
        self._last_run_s: float | None = None
        self._cache: dict[int, _Cached] = {}

    def predict(self, tracks: Sequence[Track], stamp_s: float) -> list[PredictedPath]:
        last = self._last_run_s
        if self.period_s <= 0 or last is None or stamp_s < last or stamp_s - last >= self.period_s - JITTER_S:
            self._last_run_s = stamp_s
            self._cache = {}
            return self._run(tracks, stamp_s)
        fresh = [t for t in tracks if not self._matches(t)]
        new = {p.track_id: p for p in self._run(fresh, stamp_s)} if fresh else {}
        cached = [t for t in tracks if t.track_id not in new and self._matches(t)]
        moved = iter(self._reanchor(cached, stamp_s))
        out: list[PredictedPath] = []
        for t in tracks:  # the input order, as the inner predictor returns them
            if t.track_id in new or not self._matches(t):
                out += [p for p in new.values() if p.track_id == t.track_id]
            else:
                out += next(moved)
        return out

    def _reanchor(self, tracks: list[Track], stamp_s: float) -> list[list[PredictedPath]]:
        """``reanchor`` of the cached paths of each of ``tracks``: the paths on one time grid (the usual
        case: one run, one horizon) as (G, T, 2) arrays at once."""
        now = _anchors(tracks, stamp_s)  # (N, 2)
        jobs = [
            (i, self._cache[t.track_id], p)
            for i, t in enumerate(tracks)
            for p in self._cache[t.track_id].paths
        ]
        groups: dict[tuple[float, bytes], list[int]] = {}
        for n, (_, c, p) in enumerate(jobs):
            groups.setdefault((c.stamp_s, np.asarray(p.times_s, np.float64).tobytes()), []).append(n)
        moved: dict[int, PredictedPath] = {}
        for (made_s, _), idx in groups.items():
            start = np.array([jobs[n][1].start_m for n in idx])
            paths = reanchor_batch(
                [jobs[n][2] for n in idx], made_s, start, stamp_s, now[[jobs[n][0] for n in idx]]
            )
            moved.update(zip(idx, paths))
        out: list[list[PredictedPath]] = [[] for _ in tracks]
        for n, (i, _, _) in enumerate(jobs):
            out[i].append(moved[n])
        return out

    def _matches(self, track: Track) -> bool:
        c = self._cache.get(track.track_id)
        return (
            c is not None
            and c.class_id == track.class_id
            and abs(c.birth_s - (track.stamp_s - track.age_s)) < 1e-6
            and track.ground is not None
        )

    def _run(self, tracks: Sequence[Track], stamp_s: float) -> list[PredictedPath]:
        """The inner predictor on ``tracks``; their paths cached for the calls until the next run."""
        paths = self.inner.predict(tracks, stamp_s)
        by_id: dict[int, list[PredictedPath]] = {}
        for p in paths:
            by_id.setdefault(p.track_id, []).append(p)
        for t in tracks:
            if t.track_id in by_id and t.ground is not None:
                birth = t.stamp_s - t.age_s
                start = anchor(t, stamp_s)[0]
                self._cache[t.track_id] = _Cached(birth, t.class_id, stamp_s, start, tuple(by_id[t.track_id]))
        return paths
