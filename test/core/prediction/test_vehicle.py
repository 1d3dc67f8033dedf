"""Vehicle path model (Singer filter) and the driving-scene windows of its evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lepton_perception.core.prediction.scene import load_agents, scene_windows
from lepton_perception.core.prediction.vehicle import VehicleModelConfig, vehicle_path
from lepton_perception.core.prediction.vehicle_predictor import VehiclePathPredictor, moving_significantly
from lepton_perception.core.types import GroundState, Track, TrackState

H = np.arange(1, 13) * 0.4
CFG = VehicleModelConfig()


def test_straight_constant_speed_is_extrapolated_exactly() -> None:
    t = np.arange(8) * 0.4
    xy = np.column_stack((3.0 + 12.0 * t, -1.0 + 5.0 * t))
    path = vehicle_path(t, xy, float(t[-1]), H, CFG)
    assert path is not None
    np.testing.assert_allclose(path, xy[-1] + np.outer(H, (12.0, 5.0)), atol=1e-6)


def test_parked_car_with_jitter_stays_put_and_short_history_is_refused() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(8) * 0.4
    xy = 10.0 + rng.normal(0.0, 0.15, (8, 2))
    path = vehicle_path(t, xy, float(t[-1]), H, CFG)
    assert path is not None and np.ptp(path, axis=0).max() == 0.0
    assert np.linalg.norm(path[0] - 10.0) < 0.3
    assert vehicle_path(t[:2], xy[:2], float(t[1]), H, CFG) is None


def test_noisy_history_beats_last_step_velocity() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(8) * 0.4
    errs_model, errs_cv = [], []
    for _ in range(200):
        v = rng.normal(0.0, 8.0, 2)
        truth = np.outer(np.concatenate((t, t[-1] + H)), v)
        obs = truth[:8] + rng.normal(0.0, 0.3, (8, 2))
        path = vehicle_path(t, obs, float(t[-1]), H, CFG)
        assert path is not None
        cv = obs[-1] + np.outer(np.arange(1, 13), obs[-1] - obs[-2])
        errs_model.append(np.linalg.norm(path - truth[8:], axis=1).mean())
        errs_cv.append(np.linalg.norm(cv - truth[8:], axis=1).mean())
    assert np.mean(errs_model) < 0.5 * np.mean(errs_cv)


def test_scene_windows_need_every_sample(tmp_path: Path) -> None:
    rows = [
        "timestamp_ns,track_id,label,label_probability,x_m,y_m,yaw_rad,length_m,width_m,height_m,vx_mps,vy_mps"
    ]
    for f in range(90):  # 10 Hz, 9 s; car 1 everywhere, car 2 missing frame 40, a pedestrian
        ts = 10**18 + f * 10**8
        rows.append(f"{ts},1,CAR,1,{f * 0.5},0,0,4,2,1.5,5,0")
        if f != 40:
            rows.append(f"{ts},2,CAR,1,0,{f * 0.1},0,4,2,1.5,0,1")
        rows.append(f"{ts},3,PEDESTRIAN,1,1,1,0,1,1,1.7,0,0")
    (tmp_path / "agents.csv").write_text("\n".join(rows) + "\n")
    stamps, tracks = load_agents(tmp_path, ("CAR",))
    assert sorted(tracks) == [1, 2] and len(stamps) == 90
    times, windows, ids, starts = scene_windows(stamps, tracks, 0.4, 8, 12)
    assert starts[:14] == list(range(14))
    # 20 samples 4 frames apart span 77 frames: 14 start frames; car 2 loses starts 0, 4, 8, 12 (frame 40).
    assert ids.count(1) == 14 and ids.count(2) == 10
    np.testing.assert_allclose(np.diff(times, axis=1), 0.4, atol=1e-6)
    np.testing.assert_allclose(windows[0, :, 0], 2.0 * np.arange(20))


def test_every_route_is_a_predictor() -> None:
    from lepton_perception.core.prediction.base import Predictor
    from lepton_perception.core.prediction.cv import ConstantVelocityPredictor
    from lepton_perception.core.prediction.model import TrajectoryGRU
    from lepton_perception.core.prediction.predictor import PredictorConfig, RoutedPredictor
    from lepton_perception.core.prediction.vehicle_predictor import VehiclePathPredictor

    router = RoutedPredictor(PredictorConfig(device="cpu"), model=TrajectoryGRU())
    routes: list[Predictor] = [router, router.rnn, ConstantVelocityPredictor(), VehiclePathPredictor(CFG)]
    assert [r.name for r in routes] == ["routed", "rnn", "cv", "singer"]
    assert all(r.predict([], 0.0) == [] for r in routes)


@pytest.mark.parametrize(
    ("velocity", "velocity_std", "moving"),
    [
        ((0.8, 0.0), 1.0, False),  # slow and unsure: not distinguishable from standing still
        ((0.8, 0.0), 0.1, True),  # slow but sure: a creeping car
        ((6.0, 2.0), 1.0, True),
        ((0.0, 0.0), 0.01, False),
    ],
)
def test_track_velocity_significance_decides_a_held_path(
    velocity: tuple[float, float], velocity_std: float, moving: bool
) -> None:
    t = np.arange(8, dtype=np.float64) * 0.4
    v = np.array(velocity)
    xy = np.outer(t, v)
    cov = np.diag([0.1, 0.1, velocity_std**2, velocity_std**2])
    z = np.zeros(4, np.float32)
    track = Track(1, 2, TrackState.CONFIRMED, z, z[:2], 1.0, float(t[-1]), 3.0, 8, 0.0,
                  GroundState(xy[-1], v, cov), np.column_stack((t, xy)))  # fmt: skip
    assert moving_significantly(track, 5.99) is moving
    (path,) = VehiclePathPredictor(VehicleModelConfig()).predict([track], float(t[-1]))
    held = np.allclose(path.positions_m, xy[-1])
    assert held is not moving
