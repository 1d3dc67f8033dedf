"""The ground filter: measured fixes are fused every image, bounded ones only where they inform."""

from __future__ import annotations

import numpy as np
import pytest

from lepton_perception.core.ground import GroundFix
from lepton_perception.core.tracking.ground_filter import GroundFilter, GroundNoise
from lepton_perception.core.tracking.motion import ConstantVelocityModel
from lepton_perception.core.tracking.store import GroundHistory, TrackStore

NOISE = GroundNoise(accel_mps2=3.0, slow_accel_mps2=1.5, initial_speed_mps=10.0, history_s=5.0, coast_s=1.5)


def _store(x_m: float, pos_std_m: float) -> TrackStore:
    """One track at (x_m, 0) at rest with position std ``pos_std_m``, last fix at t = 0."""
    t = TrackStore(
        ids=np.array([1]), slow=np.array([True]), gx=np.array([[x_m, 0.0, 0.0, 0.0]]),
        gcov=np.diag([pos_std_m**2, pos_std_m**2, 0.1, 0.1])[None], g_valid=np.array([True]),
        g_last_s=np.array([0.0]), history=[GroundHistory()],
    )  # fmt: skip
    return t


def _fix(x_m: float, std_m: float, bounded: bool) -> GroundFix:
    return GroundFix(
        np.array([[x_m, 0.0]]), np.diag([std_m**2, 0.04])[None], np.array([True]), np.array([bounded])
    )


@pytest.mark.parametrize(
    ("state_x_m", "state_std_m", "bounded", "moves"),
    [
        (5.0, 0.3, True, False),  # inside the near field, better known than the bound: kept, alive
        (5.0, 0.3, False, True),  # the same fix as a measurement: fused
        (12.0, 0.3, True, True),  # far outside the bound: it contradicts the state, fused
        (5.0, 3.0, True, True),  # the state knows less than the bound: fused
    ],
)
def test_a_bound_is_fused_only_where_it_informs(state_x_m, state_std_m, bounded, moves) -> None:
    flt = GroundFilter(ConstantVelocityModel(2), NOISE)
    t = _store(state_x_m, state_std_m)
    for k in range(1, 11):  # one second of the same bound (2.6 m +- 1.5 m) at 10 Hz
        flt.predict(t, 0.1)
        flt.update(t, np.array([0]), _fix(2.6, 1.5, bounded), 0.1 * k)
    assert t.g_last_s[0] == pytest.approx(1.0)  # kept alive either way
    moved = abs(t.gx[0, 0] - state_x_m)
    assert (moved > 0.5) if moves else (moved < 1e-9)
