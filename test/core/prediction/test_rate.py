"""PlannerRatePredictor: the inner predictor at most every period, re-anchored paths in between."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from lepton_perception.core.prediction.cv import ConstantVelocityPredictor
from lepton_perception.core.prediction.history import interp_rows
from lepton_perception.core.prediction.rate import PlannerRatePredictor, reanchor, reanchor_batch
from lepton_perception.core.types import GroundState, PredictedPath, Track, TrackState

T0 = 1_700_000_000.0


def _track(
    tid: int, stamp_s: float, xy: tuple[float, float], v: tuple[float, float], born_s: float = T0
) -> Track:
    ground = GroundState(np.array(xy, float), np.array(v, float), np.eye(4))
    box = np.array([10, 20, 30, 80], np.float32)
    return Track(
        tid,
        0,
        TrackState.CONFIRMED,
        box,
        np.zeros(2, np.float32),
        0.9,
        stamp_s,
        stamp_s - born_s,
        5,
        0.0,
        ground,
    )


class _Counting:
    """Constant velocity, remembering which track ids every call got."""

    name = "cv"

    def __init__(self) -> None:
        self.inner = ConstantVelocityPredictor(0.4, 12)
        self.calls: list[list[int]] = []

    def predict(self, tracks: Sequence[Track], stamp_s: float) -> list[PredictedPath]:
        self.calls.append([t.track_id for t in tracks])
        return self.inner.predict(tracks, stamp_s)


def _at(stamp_s: float, vy: float = 0.0) -> list[Track]:
    """Two objects moving at constant velocity (the second turns by ``vy`` m/s sideways)."""
    dt = stamp_s - T0
    return [
        _track(1, stamp_s, (2.0 * dt, 0.0), (2.0, 0.0)),
        _track(2, stamp_s, (5.0, -1.0 * dt), (0.0, -1.0 + vy)),
    ]


def test_between_runs_a_constant_velocity_path_is_what_a_new_run_would_give() -> None:
    inner = _Counting()
    rated = PlannerRatePredictor(inner, period_s=0.1)
    rated.predict(_at(T0), T0)
    for k in (1, 2):  # a 30 Hz camera: two calls re-anchored, the third a new run
        stamp = T0 + k / 30
        got = rated.predict(_at(stamp), stamp)
        want = ConstantVelocityPredictor(0.4, 12).predict(_at(stamp), stamp)
        assert [p.track_id for p in got] == [1, 2]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.times_s, w.times_s, rtol=0, atol=1e-6)
            np.testing.assert_allclose(g.positions_m, w.positions_m, rtol=0, atol=1e-6)
    assert inner.calls == [[1, 2]]
    rated.predict(_at(T0 + 0.1), T0 + 0.1)
    assert inner.calls == [[1, 2], [1, 2]]


def test_a_reanchored_path_starts_where_the_object_is_now() -> None:
    """The object veered off its path: the old shape, moved to its current position."""
    path = PredictedPath(7, T0 + np.array([0.4, 0.8]), np.array([[0.8, 0.0], [1.6, 0.0]]), 0.5, "rnn")
    out = reanchor(path, T0, np.zeros(2), T0 + 0.2, np.array([0.4, 1.0]))
    np.testing.assert_allclose(out.times_s, T0 + np.array([0.6, 1.0]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(out.positions_m, [[1.2, 1.0], [2.0, 1.0]], atol=1e-5)  # 2 m/s from (0.4, 1)
    assert (out.track_id, out.confidence, out.predictor) == (7, 0.5, "rnn")


def test_new_reused_and_restarted_ids_are_predicted_at_once() -> None:
    inner = _Counting()
    rated = PlannerRatePredictor(inner, period_s=0.1)
    rated.predict(_at(T0), T0)
    stamp = T0 + 0.03
    newcomer = _track(3, stamp, (9.0, 9.0), (0.0, 1.0))
    reused = _track(1, stamp, (-4.0, 0.0), (1.0, 0.0), born_s=stamp)  # id 1 now worn by a new object
    got = rated.predict([reused, _at(stamp)[1], newcomer], stamp)
    assert inner.calls[-1] == [1, 3] and [p.track_id for p in got] == [1, 2, 3]
    np.testing.assert_allclose(got[0].positions_m[0], [-4.0 + 0.4, 0.0])  # its own path, not the old one
    rated.predict(_at(T0 - 1.0), T0 - 1.0)  # time went back: everyone again
    assert inner.calls[-1] == [1, 2]


@pytest.mark.parametrize("period_s", [0.0, 0.1])
def test_every_call_gives_paths_for_the_current_stamp(period_s: float) -> None:
    rated = PlannerRatePredictor(ConstantVelocityPredictor(0.4, 12), period_s)
    for k in range(7):
        stamp = T0 + k / 30
        paths = rated.predict(_at(stamp, vy=0.5 * k), stamp)
        assert len(paths) == 2
        for p in paths:
            np.testing.assert_allclose(p.times_s, stamp + 0.4 * np.arange(1, 13), rtol=0, atol=1e-6)


def test_period_zero_is_the_inner_predictor() -> None:
    inner = _Counting()
    rated = PlannerRatePredictor(inner, 0.0)
    for k in range(3):
        rated.predict(_at(T0 + k / 30), T0 + k / 30)
    assert inner.calls == [[1, 2]] * 3
    with pytest.raises(ValueError, match="period_s"):
        PlannerRatePredictor(inner, -1.0)


def _reanchor_one(path: PredictedPath, made_s: float, start_m, stamp_s: float, now_m):
    """One path at a time with ``interp_rows`` (the reference the batched arithmetic must equal)."""
    offsets = path.times_s - made_s
    times = np.concatenate(([made_s], path.times_s))
    points = np.concatenate((start_m[None], path.positions_m))
    moved = interp_rows(times, points, np.concatenate(([stamp_s], stamp_s + offsets)))
    return stamp_s + offsets, moved[1:] + (now_m - moved[0])[None]


def test_batched_reanchoring_gives_the_numbers_of_one_path_at_a_time() -> None:
    """``reanchor_batch`` (and ``reanchor``, a batch of one) is one path at a time through
    ``interp_rows``, bit for bit (also past the paths' ends)."""
    rng = np.random.default_rng(3)
    times = T0 + 0.4 * np.arange(1, 13)
    paths = [PredictedPath(k, times, rng.normal(0, 5, (12, 2)), 0.5 + 0.1 * k, "rnn") for k in range(4)]
    start, now = rng.normal(0, 1, (4, 2)), rng.normal(0, 1, (4, 2))
    for stamp in (T0, T0 + 0.033, T0 + 0.4, T0 + 6.0):
        got = reanchor_batch(paths, T0, start, stamp, now)
        for p, s, n, g in zip(paths, start, now, got):
            times, positions = _reanchor_one(p, T0, s, stamp, n)
            assert np.array_equal(g.times_s, times) and np.array_equal(g.positions_m, positions)
            assert (g.track_id, g.confidence, g.predictor) == (p.track_id, p.confidence, p.predictor)
            one = reanchor(p, T0, s, stamp, n)
            assert np.array_equal(one.positions_m, positions) and np.array_equal(one.times_s, times)
