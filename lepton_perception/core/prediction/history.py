"""Track histories for predictors (torch-free): cleaning, resampling, the current ground anchor."""

from __future__ import annotations

from collections import Counter

import numpy as np

from lepton_perception.core.prediction.data import F64
from lepton_perception.core.types import PredictedPath, Track


def interp_rows(times: F64, values: F64, query: F64) -> F64:
    """Linear interpolation of (K, D) ``values`` at increasing ``times`` (K,) -> (Q, D) at ``query``.

    Outside [times[0], times[-1]] the first/last segment is extended linearly (needs K >= 2).
    """
    if len(times) < 2:
        raise ValueError("interpolation needs at least two samples")
    result: F64 = np.stack([np.interp(query, times, values[:, d]) for d in range(values.shape[1])], axis=1)
    for mask, a, b in ((query < times[0], 0, 1), (query > times[-1], -2, -1)):
        if mask.any():
            slope = (values[b] - values[a]) / max(float(times[b] - times[a]), 1e-9)
            result[mask] = values[b] + slope[None] * (query[mask] - times[b])[:, None]
    return result


def interp_rows_batch(times: F64, values: F64, query: F64) -> F64:
    """``interp_rows`` of G value sets on one time grid at once: (G, K, D) ``values`` -> (G, Q, D).

    Row for row the same numbers as ``interp_rows(times, values[g], query)``: ``np.interp``'s own
    arithmetic (per-segment slope, ``slope * (x - x_j) + y_j``, its rules at the grid's ends and on
    NaN) on (G, Q, D) arrays instead of one ``np.interp`` call per set and dimension.
    """
    k = len(times)
    if k < 2:
        raise ValueError("interpolation needs at least two samples")
    slopes = (values[:, 1:] - values[:, :-1]) / (times[1:] - times[:-1])[None, :, None]  # (G, K-1, D)
    j = np.clip(np.searchsorted(times, query, side="right") - 1, 0, k - 2)  # (Q,) xp[j] <= x < xp[j+1]
    slope = slopes[:, j]
    result: F64 = slope * (query - times[j])[None, :, None] + values[:, j]
    retry = np.isnan(result)
    if retry.any():  # np.interp: NaN from one side, try the other; a flat segment is its value
        other = slope * (query - times[j + 1])[None, :, None] + values[:, j + 1]
        flat = np.isnan(other) & (values[:, j] == values[:, j + 1])
        result = np.where(retry, np.where(flat, values[:, j], other), result)
    on_grid = query == times[j]
    result[:, on_grid] = values[:, j[on_grid]]
    ends = (query <= times[0], 0), (query >= times[-1], -1)
    for mask, i in ends:  # np.interp clamps; the same extension as interp_rows follows
        result[:, mask] = values[:, i][:, None]
    for mask, a, b in ((query < times[0], 0, 1), (query > times[-1], -2, -1)):
        if mask.any():
            slope_end = (values[:, b] - values[:, a]) / max(float(times[b] - times[a]), 1e-9)  # (G, D)
            result[:, mask] = (
                values[:, b][:, None] + slope_end[:, None] * (query[mask] - times[b])[None, :, None]
            )
    return result


def finite_ground(track: Track) -> bool:
    """A ground state with finite (2,) position and velocity."""
    g = track.ground
    if g is None:
        return False
    p, v = np.asarray(g.position_m), np.asarray(g.velocity_mps)
    return p.shape == (2,) and v.shape == (2,) and bool(np.isfinite(p).all() and np.isfinite(v).all())


def anchor(track: Track, stamp_s: float) -> tuple[F64, F64]:
    """(2,) position extrapolated to ``stamp_s`` with the (2,) Kalman ground velocity, and that velocity."""
    assert track.ground is not None
    v = np.asarray(track.ground.velocity_mps, dtype=np.float64)
    p = np.asarray(track.ground.position_m, dtype=np.float64) + v * max(stamp_s - track.stamp_s, 0.0)
    return p, v


def cv_path(track: Track, stamp_s: float, steps_s: F64, name: str = "cv") -> PredictedPath:
    """Constant Kalman ground velocity from ``stamp_s`` at (T,) ``steps_s`` seconds ahead."""
    p, v = anchor(track, stamp_s)
    return PredictedPath(track.track_id, stamp_s + steps_s, p + v[None] * steps_s[:, None], 1.0, name)


def _clean(hist: F64, cur: F64, cur_ok: bool, stamp_s: float) -> F64:
    """Finite rows up to ``stamp_s``, sorted by stamp, the last of equal stamps kept (current state wins)."""
    hist = hist[np.isfinite(hist).all(axis=1) & (hist[:, 0] <= stamp_s + 1e-6)]
    if cur_ok:
        hist = np.concatenate((hist, cur))
    if len(hist) == 0:
        return hist
    hist = hist[np.argsort(hist[:, 0], kind="stable")]
    result: F64 = hist[np.append(np.diff(hist[:, 0]) > 1e-6, True)]
    return result


def samples(
    track: Track, stamp_s: float, max_extrapolation_s: float, counts: Counter[str]
) -> tuple[F64, F64] | str:
    """Cleaned (K,) stamps and (K, 2) positions ending at ``stamp_s``, or a fallback reason.

    The history plus the current ground state; a malformed history counts ``bad_history_shape`` in
    ``counts``. A gap to ``stamp_s`` (coasting, late call) is bridged with the Kalman velocity; a gap
    over ``max_extrapolation_s`` is ``stale``.
    """
    assert track.ground is not None
    hist: F64 = np.asarray(track.history, dtype=np.float64)
    if hist.ndim != 2 or hist.shape[1] != 3:
        counts["bad_history_shape"] += 1
        hist = np.zeros((0, 3))
    cur = np.array([[track.stamp_s, *track.ground.position_m]], dtype=np.float64)
    cur_ok = track.stamp_s <= stamp_s + 1e-6 and bool(np.isfinite(cur).all())
    th = hist[:, 0]
    clean = (
        cur_ok
        and len(hist) > 1
        and th[-1] <= track.stamp_s + 1e-6
        and bool(np.isfinite(hist).all())
        and bool((th[1:] - th[:-1] > 1e-6).all())
    )
    if clean:
        # Fast path (the tracker's normal output): the current state is newest and replaces a row
        # with the same stamp.
        hist = np.concatenate((hist, cur) if track.stamp_s - th[-1] > 1e-6 else (hist[:-1], cur))
    else:
        hist = _clean(hist, cur, cur_ok, stamp_s)
        if len(hist) == 0:
            return "no_history"
    t, xy = hist[:, 0], hist[:, 1:3]
    gap = stamp_s - t[-1]
    if gap > max_extrapolation_s:
        return "stale"
    if gap > 1e-6:
        v = np.asarray(track.ground.velocity_mps, dtype=np.float64)
        t = np.append(t, stamp_s)
        xy = np.concatenate((xy, xy[-1:] + v[None] * gap))
    return t, xy
