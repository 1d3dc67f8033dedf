"""Runtime predictor: resampling by stamps, batching, fallbacks, vehicles, absolute times."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lepton_perception.core.prediction.model import TrajectoryGRU
from lepton_perception.core.prediction.predictor import PredictorConfig, RoutedPredictor
from lepton_perception.core.types import GroundState, Track, TrackState

STAMP = 100.0


def _track(
    track_id: int,
    stamps: np.ndarray,
    xy: np.ndarray,
    velocity: tuple[float, float],
    class_id: int = 0,
    track_stamp: float = STAMP,
    ground: bool = True,
) -> Track:
    """A track whose current ground state is the last history row."""
    gs = GroundState(np.asarray(xy[-1], float), np.asarray(velocity, float), np.eye(4)) if ground else None
    return Track(
        track_id=track_id,
        class_id=class_id,
        state=TrackState.CONFIRMED,
        box=np.zeros(4, np.float32),
        box_velocity_pxps=np.zeros(2, np.float32),
        score=0.9,
        stamp_s=track_stamp,
        age_s=float(stamps[-1] - stamps[0]) if len(stamps) else 0.0,
        hits=len(stamps),
        time_since_update_s=0.0,
        ground=gs,
        history=np.column_stack((stamps, xy)) if len(stamps) else np.zeros((0, 3)),
    )


def _linear(stamps: np.ndarray, p0: tuple[float, float], v: tuple[float, float]) -> np.ndarray:
    return np.asarray(p0) + np.outer(stamps - STAMP, v)


@pytest.fixture
def cv_model_predictor() -> RoutedPredictor:
    # An untrained TrajectoryGRU is exactly constant velocity (zero last layer): the expected output
    # of the "rnn" path is then known in closed form from the resampled input.
    return RoutedPredictor(PredictorConfig(device="cpu"), model=TrajectoryGRU())


def test_resampling_irregular_stamps_with_dropped_frames(cv_model_predictor: RoutedPredictor) -> None:
    rng = np.random.default_rng(0)
    stamps = STAMP - np.arange(40, -1, -1) * 0.1 + rng.uniform(-0.03, 0.03, 41)
    stamps[-1] = STAMP
    stamps = np.delete(stamps, [5, 6, 7, 20, 21, 33])  # dropped frames
    v = (1.2, -0.4)
    track = _track(7, stamps, _linear(stamps, (3.0, 4.0), v), v)
    obs, reason = cv_model_predictor.rnn.observation(track, STAMP)
    assert reason == "ok" and obs is not None
    grid = STAMP - np.arange(7, -1, -1) * 0.4
    np.testing.assert_allclose(obs, _linear(grid, (3.0, 4.0), v), atol=1e-9)
    [path] = cv_model_predictor.predict([track], STAMP)
    assert path.predictor == "rnn" and path.track_id == 7
    np.testing.assert_allclose(path.times_s, STAMP + 0.4 * np.arange(1, 13))
    np.testing.assert_allclose(path.positions_m, _linear(path.times_s, (3.0, 4.0), v), atol=1e-4)


def test_unsorted_duplicate_and_nan_rows_are_cleaned(cv_model_predictor: RoutedPredictor) -> None:
    stamps = STAMP - np.arange(30, -1, -1) * 0.1
    xy = _linear(stamps, (0.0, 0.0), (1.0, 0.0))
    hist = np.column_stack((stamps, xy))
    hist = np.vstack((hist[::-1], hist[3:5], [[STAMP - 1.0, np.nan, 0.0]]))  # reversed, duplicates, NaN
    track = _track(1, stamps, xy, (1.0, 0.0))
    track = Track(**{**track.__dict__, "history": hist})
    obs, reason = cv_model_predictor.rnn.observation(track, STAMP)
    assert reason == "ok" and obs is not None
    np.testing.assert_allclose(obs[:, 0], -0.4 * np.arange(7, -1, -1), atol=1e-9)


def test_short_history_is_padded_by_back_extrapolation(cv_model_predictor: RoutedPredictor) -> None:
    stamps = STAMP - np.array([1.0, 0.5, 0.0])  # 1 s of history: enough, but shorter than 2.8 s
    v = (0.0, 1.5)
    track = _track(2, stamps, _linear(stamps, (1.0, 1.0), v), v)
    obs, reason = cv_model_predictor.rnn.observation(track, STAMP)
    assert reason == "ok" and obs is not None
    np.testing.assert_allclose(obs, _linear(STAMP - np.arange(7, -1, -1) * 0.4, (1.0, 1.0), v), atol=1e-9)
    assert cv_model_predictor.predict([track], STAMP)[0].predictor == "rnn"


@pytest.mark.parametrize(
    ("stamps", "reason"),
    [
        (np.array([STAMP]), "short_history"),  # one point
        (STAMP - np.array([0.4, 0.2, 0.0]), "short_history"),  # 0.4 s span < min_history_s
        (STAMP - np.array([3.0, 2.5, 2.0]), "stale"),  # last seen 2 s ago, tracker stamp too
    ],
)
def test_too_short_or_stale_history_falls_back_to_kalman_cv(stamps: np.ndarray, reason: str) -> None:
    pred = RoutedPredictor(PredictorConfig(device="cpu"), model=TrajectoryGRU())
    v = (0.5, 0.5)
    track = _track(3, stamps, _linear(stamps, (0.0, 0.0), v), v, track_stamp=float(stamps[-1]))
    [path] = pred.predict([track], STAMP)
    assert path.predictor == "cv"
    assert pred.fallback_counts()[reason] == 1
    # Kalman CV from the track's own stamp forward to the requested times.
    expected = np.asarray(track.ground.position_m) + np.outer(path.times_s - track.stamp_s, v)  # type: ignore[union-attr]
    np.testing.assert_allclose(path.positions_m, expected, atol=1e-9)


def test_vehicles_get_the_singer_model_or_cv_and_tracks_without_ground_are_skipped() -> None:
    pred = RoutedPredictor(PredictorConfig(device="cpu"), model=TrajectoryGRU())
    # A car on a circle of radius 20 m at 10 m/s (yaw rate 0.5 rad/s), 3 s of 10 Hz history.
    r, w = 20.0, 0.5
    stamps = STAMP - np.arange(30, -1, -1) * 0.1
    ang = w * (stamps - STAMP)
    xy = np.column_stack((r * np.sin(ang), r * (1 - np.cos(ang))))
    turning = _track(10, stamps, xy, (r * w, 0.0), class_id=2)
    straight = _track(11, stamps, _linear(stamps, (0, 0), (8.0, 0.0)), (8.0, 0.0), class_id=7)
    parked = _track(12, stamps, np.full((31, 2), 3.0), (0.4, 0.0), class_id=2)
    nothing = _track(13, stamps, xy, (1.0, 0.0), ground=False)
    walker = _track(14, stamps, _linear(stamps, (5, 5), (1.0, 0.0)), (1.0, 0.0), class_id=0)
    paths = pred.predict([turning, straight, parked, nothing, walker], STAMP)
    assert [p.track_id for p in paths] == [10, 11, 12, 14]
    assert [p.predictor for p in paths] == ["singer", "singer", "singer", "rnn"]
    # A 5 m/s^2 turn is ten times the model's acceleration prior: the filtered heading lags (about
    # 30 degrees here, a known limit, docs/prediction.md), but the path still heads forward.
    first = paths[0].positions_m[0]
    assert abs(math.degrees(math.atan2(first[1], first[0]))) < 35.0
    assert np.all(np.diff(paths[0].positions_m[:, 0]) > 0)
    np.testing.assert_allclose(paths[1].positions_m[:, 0], 8.0 * 0.4 * np.arange(1, 13), atol=1e-6)
    np.testing.assert_allclose(paths[1].positions_m[:, 1], 0.0, atol=1e-9)
    np.testing.assert_allclose(paths[2].positions_m, 3.0, atol=1e-9)  # parked stays put (Kalman v ignored)
    assert pred.fallback_counts()["no_ground_state"] == 1
    cv_only = RoutedPredictor(PredictorConfig(device="cpu", vehicle_model="cv"), model=TrajectoryGRU())
    assert cv_only.predict([turning], STAMP)[0].predictor == "cv"
    short = _track(15, stamps[-2:], xy[-2:], (r * w, 0.0), class_id=2)
    assert pred.predict([short], STAMP)[0].predictor == "cv"
    assert pred.fallback_counts()["vehicle_short_history"] == 1


def test_predictor_config_imports_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from lepton_perception.core.prediction.predictor import PredictorConfig; "
        "PredictorConfig(); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_many_agents_one_batch_and_order_kept(cv_model_predictor: RoutedPredictor) -> None:
    stamps = STAMP - np.arange(30, -1, -1) * 0.1
    tracks = []
    for i in range(50):
        a = 2 * math.pi * i / 50
        v = (math.cos(a), math.sin(a))
        tracks.append(_track(i, stamps, _linear(stamps, (i, -i), v), v, class_id=0 if i % 2 else 1))
    paths = cv_model_predictor.predict(tracks, STAMP)
    assert [p.track_id for p in paths] == list(range(50))
    assert all(p.predictor == "rnn" for p in paths)
    for p, t in zip(paths, tracks):
        assert p.positions_m.shape == (12, 2)
        np.testing.assert_allclose(
            p.positions_m[-1], t.history[-1, 1:] + 4.8 * t.ground.velocity_mps, atol=1e-4
        )  # type: ignore[union-attr]


def test_shipped_runtime_model_loads_and_predicts() -> None:
    pred = RoutedPredictor(PredictorConfig(device="cpu"))
    stamps = STAMP - np.arange(30, -1, -1) * 0.1
    track = _track(1, stamps, _linear(stamps, (0, 0), (1.3, 0.0)), (1.3, 0.0))
    [path] = pred.predict([track], STAMP)
    assert path.predictor == "rnn"
    # A steady straight walk stays near straight: within 0.5 m of CV after 4.8 s, and moving forward.
    assert np.linalg.norm(path.positions_m[-1] - np.array([1.3 * 4.8, 0.0])) < 0.5
    assert np.all(np.diff(path.positions_m[:, 0]) > 0)


def test_neighbours_for_a_social_model() -> None:
    from lepton_perception.core.prediction.model import TrajectoryModelConfig

    model = TrajectoryGRU(TrajectoryModelConfig(max_neighbours=2, neighbour_radius_m=5.0))
    pred = RoutedPredictor(PredictorConfig(device="cpu"), model=model)
    stamps = STAMP - np.arange(30, -1, -1) * 0.1
    specs = [  # (id, class, position now, velocity)
        (0, 0, (0.0, 0.0), (1.0, 0.0)),
        (1, 0, (3.0, 0.0), (0.0, 1.0)),  # 3 m away
        (2, 1, (0.0, -1.0), (-1.0, 0.0)),  # cyclist, 1 m away
        (3, 2, (0.5, 0.5), (5.0, 0.0)),  # a car: not a neighbour (not in the training data)
        (4, 0, (0.0, 4.5), (0.0, 0.0)),  # third nearest pedestrian: beyond max_neighbours=2
        (5, 0, (10.0, 0.0), (0.0, 0.0)),  # beyond the 5 m radius
    ]
    tracks = [_track(i, stamps, _linear(stamps, p, v), v, class_id=c) for i, c, p, v in specs]
    nb = pred.rnn.neighbours(tracks, STAMP, [0, 5], np.array([[0.0, 0.0], [10.0, 0.0]]))
    assert nb.shape == (2, 2, 5)
    np.testing.assert_allclose(nb[0, 0], [0.0, -1.0, -0.4, 0.0, 1.0], atol=1e-9)  # velocity in m per 0.4 s
    np.testing.assert_allclose(nb[0, 1], [3.0, 0.0, 0.0, 0.4, 1.0], atol=1e-9)
    np.testing.assert_allclose(nb[1], 0.0)  # agent 5 has nobody within 5 m
    paths = pred.predict(tracks, STAMP)
    assert [p.predictor for p in paths] == ["rnn", "rnn", "rnn", "singer", "rnn", "rnn"]


def test_bad_inputs_are_counted_not_crashes() -> None:
    pred = RoutedPredictor(PredictorConfig(device="cpu"), model=TrajectoryGRU())
    stamps = STAMP - np.arange(30, -1, -1) * 0.1
    good = _track(1, stamps, _linear(stamps, (0, 0), (1.0, 0.0)), (1.0, 0.0))
    nan_ground = _track(2, stamps, _linear(stamps, (0, 0), (1.0, 0.0)), (np.nan, 0.0))
    bad_shape = Track(**{**good.__dict__, "track_id": 3, "history": np.zeros((5, 2))})
    paths = pred.predict([good, nan_ground, bad_shape], STAMP)
    assert [(p.track_id, p.predictor) for p in paths] == [(1, "rnn"), (3, "cv")]
    assert all(np.isfinite(p.positions_m).all() for p in paths)
    assert pred.fallback_counts()["bad_ground_state"] == 1
    assert pred.fallback_counts()["bad_history_shape"] == 1
    assert pred.fallback_counts()["short_history"] == 1  # track 3: only its current state is left


def test_interp_rows_inside_and_outside() -> None:
    from lepton_perception.core.prediction.history import interp_rows

    t = np.array([0.0, 1.0, 3.0])
    v = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 0.0]])
    q = np.array([-1.0, 0.5, 2.0, 3.0, 4.0])
    expected = np.array([[-1.0, -2.0], [0.5, 1.0], [2.0, 1.0], [3.0, 0.0], [4.0, -1.0]])
    np.testing.assert_allclose(interp_rows(t, v, q), expected)


@pytest.mark.parametrize("dq", [-0.7, -0.05, 0.0, 0.033, 0.4, 5.0])
def test_interp_rows_batch_is_interp_rows_per_set(dq: float) -> None:
    """Same numbers as one ``interp_rows`` per value set: inside, on the grid, before and past it."""
    from lepton_perception.core.prediction.history import interp_rows, interp_rows_batch

    rng = np.random.default_rng(7)
    times = 1_700_000_000.0 + np.array([0.0, 0.4, 0.8, 1.3, 1.7])
    values = rng.normal(0, 10, (3, 5, 2))
    values[1, 2] = values[1, 1]  # a flat segment
    query = np.concatenate((times + dq, [times[0] - 1.0, times[-1] + 1.0]))
    got = interp_rows_batch(times, values, query)
    for g in range(3):
        assert np.array_equal(got[g], interp_rows(times, values[g], query))
