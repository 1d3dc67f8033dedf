"""The batched constant-velocity model against filterpy's KalmanFilter, step by step."""

import numpy as np
import pytest
from filterpy.common import Q_discrete_white_noise

from lepton_perception.core.tracking.motion import ConstantVelocityModel


@pytest.mark.parametrize("dt", [0.033, 0.1, 0.25, 1.0])
def test_process_noise_is_filterpys_discrete_white_noise(dt: float) -> None:
    model = ConstantVelocityModel(2)
    accel_var = np.array([[4.0, 9.0]])
    Q = model.process_noise(dt, accel_var)[0]
    q = Q_discrete_white_noise(dim=2, dt=dt, var=1.0)
    for axis, var in enumerate(accel_var[0]):
        idx = [axis, axis + 2]
        np.testing.assert_allclose(Q[np.ix_(idx, idx)], q * var, rtol=1e-12)
    assert Q[0, 1] == Q[0, 3] == 0.0  # axes independent


@pytest.mark.parametrize("n_axes", [2, 4])
def test_batched_predict_update_matches_filterpy(n_axes: int) -> None:
    rng = np.random.default_rng(1)
    n_tracks, dim_x = 5, 2 * n_axes
    model = ConstantVelocityModel(n_axes)
    x = rng.normal(0, 10, (n_tracks, dim_x))
    a = rng.normal(0, 1, (n_tracks, dim_x, dim_x))
    P = a @ a.transpose(0, 2, 1) + np.eye(dim_x)
    refs = [model.to_filterpy(x[i], P[i]) for i in range(n_tracks)]
    assert np.array_equal(refs[0].H, np.eye(n_axes, dim_x))
    for dt in (0.1, 0.05, 0.3, 0.1):  # irregular time steps
        accel_var = rng.uniform(0.5, 5.0, (n_tracks, n_axes))
        x, P = model.predict(x, P, dt, accel_var)
        Q = model.process_noise(dt, accel_var)
        F, _ = model.transition(dt)
        for i, kf in enumerate(refs):
            kf.predict(F=F, Q=Q[i])
        z = x[:, :n_axes] + rng.normal(0, 1, (n_tracks, n_axes))
        b = rng.normal(0, 1, (n_tracks, n_axes, n_axes))
        R = b @ b.transpose(0, 2, 1) + np.eye(n_axes)
        x, P = model.update(x, P, z, R)
        for i, kf in enumerate(refs):
            kf.update(z[i].reshape(-1, 1), R=R[i])
            np.testing.assert_allclose(x[i], kf.x[:, 0], rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(P[i], kf.P, rtol=1e-7, atol=1e-9)


def test_zero_dt_predict_is_identity_and_empty_batches_pass() -> None:
    model = ConstantVelocityModel(2)
    x, P = np.ones((3, 4)), np.tile(np.eye(4), (3, 1, 1))
    x2, P2 = model.predict(x, P, 0.0, np.ones((3, 2)))
    assert np.array_equal(x2, x) and np.array_equal(P2, P)
    e, eP = model.update(np.zeros((0, 4)), np.zeros((0, 4, 4)), np.zeros((0, 2)), np.zeros((0, 2, 2)))
    assert e.shape == (0, 4) and eP.shape == (0, 4, 4)


def test_velocity_converges_to_truth_with_irregular_stamps() -> None:
    rng = np.random.default_rng(0)
    model = ConstantVelocityModel(2)
    x, P = np.zeros((1, 4)), np.diag([1.0, 1.0, 100.0, 100.0])[None]
    stamps = np.cumsum(rng.uniform(0.05, 0.3, 60))
    last = 0.0
    for t in stamps:
        x, P = model.predict(x, P, float(t - last), np.full((1, 2), 0.1))
        last = t
        z = np.array([[3.0 * t, -1.5 * t]]) + rng.normal(0, 0.02, (1, 2))
        x, P = model.update(x, P, z, np.eye(2)[None] * 0.02**2)
    # 2 cm position noise over steps as short as 50 ms leaves ~0.1 m/s of velocity noise.
    np.testing.assert_allclose(x[0, 2:], [3.0, -1.5], atol=0.2)
