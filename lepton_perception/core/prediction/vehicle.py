"""Vehicle paths: a Kalman-filtered manoeuvring-target (Singer) model with a stationary test.

Turn rates and accelerations read off a few seconds of noisy positions are mostly noise; fed straight
into a CTRV roll-out they make paths worse than plain constant velocity (measured on real vehicle
tracks, docs/prediction.md). This model keeps only what the history supports:

1. The history (K samples, any spacing) is filtered with the Singer model per ground axis: state
   ``[position, velocity, acceleration]``, the acceleration a zero-mean first-order Gauss-Markov
   process with std ``accel_std_mps2`` and time constant ``manoeuvre_tau_s`` (Singer 1970, the
   textbook model for manoeuvring vehicles), positions measured with std ``position_noise_m``.
   The filter weighs old against new samples by those noises, so a noisy history yields a smooth
   velocity and a clean one a responsive velocity, and it gives the current velocity (not the
   window's mean, which lags when braking).
2. Stationary test: when the fitted speed is below ``stationary_speed_mps`` the path stays at the
   filtered position (parked cars do not creep along their noise).
3. Prediction is the Singer model's own mean: the acceleration (which includes turning, as lateral
   acceleration) decays with ``manoeuvre_tau_s``, so a manoeuvre bends the path at first and the path
   straightens out: a damped turn rate and a damped speed change at once.

Parameters are physical priors, not fitted to a scene (see docs/prediction.md for the split check).
Everything works on (K, 3) ``[stamp_s, x_m, y_m]`` histories in any fixed ground frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lepton_perception.core.prediction.data import F64
from lepton_perception.core.schema import param

_QUADRATURE = 8  # midpoint samples for the process-noise integral of one step


@dataclass(frozen=True)
class VehicleModelConfig:
    position_noise_m: float = param(
        0.3, "std-dev of a history position (tracker ground-position noise)", unit="m", lo=0.01, hi=5.0
    )
    accel_std_mps2: float = param(
        0.5,
        "Singer model: std-dev of a vehicle's acceleration (urban driving)",
        unit="m/s^2",
        lo=0.01,
        hi=10.0,
    )
    manoeuvre_tau_s: float = param(
        1.0,
        "Singer model: time constant of a manoeuvre (acceleration decays with it)",
        unit="s",
        lo=0.1,
        hi=60.0,
    )
    stationary_speed_mps: float = param(
        0.5, "a filtered speed below this predicts a path that stays put", unit="m/s", lo=0.0, hi=3.0
    )
    min_points: int = param(
        3, "history samples needed for the filter; fewer -> constant velocity", lo=2, hi=100
    )
    stationary_chi2: float = param(
        5.99,
        "a track velocity within this squared Mahalanobis distance of zero (chi^2, 2 dof; 5.99 = 95 %) "
        "predicts a path that stays put; 0 = off",
        lo=0.0,
        hi=50.0,
    )


def singer_transition(dt_s: float, tau_s: float) -> F64:
    """(3, 3) transition of ``[p, v, a]`` over ``dt_s`` with acceleration decaying by ``exp(-dt/tau)``."""
    decay = math.exp(-dt_s / tau_s)
    return np.array(
        [
            [1.0, dt_s, tau_s * (dt_s - tau_s * (1.0 - decay))],
            [0.0, 1.0, tau_s * (1.0 - decay)],
            [0.0, 0.0, decay],
        ]
    )


def singer_noise(dt_s: float, cfg: VehicleModelConfig) -> F64:
    """(3, 3) process noise of one step: white jerk of density 2 sigma_a^2 / tau through the transition."""
    density = 2.0 * cfg.accel_std_mps2**2 / cfg.manoeuvre_tau_s
    q = np.zeros((3, 3))
    for i in range(_QUADRATURE):
        g = singer_transition((i + 0.5) * dt_s / _QUADRATURE, cfg.manoeuvre_tau_s)[:, 2]
        q += np.outer(g, g)
    result: F64 = q * density * dt_s / _QUADRATURE
    return result


def filter_history(t_s: F64, xy_m: F64, cfg: VehicleModelConfig) -> F64:
    """(K,) increasing stamps, (K, 2) positions -> (3, 2) filtered ``[p, v, a]`` per axis at ``t_s[-1]``.

    Both axes share one covariance (same model and noise), so the filter runs once on (3, 2) states.
    """
    r = cfg.position_noise_m**2
    x: F64 = np.zeros((3, 2))
    x[0] = xy_m[0]
    dt0 = max(float(t_s[1] - t_s[0]), 1e-3)
    x[1] = (xy_m[1] - xy_m[0]) / dt0  # two-point start: velocity variance 2 r / dt^2 plus a manoeuvre
    var_a = cfg.accel_std_mps2**2
    cov: F64 = np.diag([r, 2.0 * r / dt0**2 + var_a, var_a])
    x[0] = xy_m[1]
    for k in range(2, len(t_s)):
        dt = float(t_s[k] - t_s[k - 1])
        f = singer_transition(dt, cfg.manoeuvre_tau_s)
        x = f @ x
        cov = f @ cov @ f.T + singer_noise(dt, cfg)
        gain = cov[:, 0] / (cov[0, 0] + r)  # (3,)
        x = x + np.outer(gain, xy_m[k] - x[0])
        cov = cov - np.outer(gain, cov[0])
    return x


def roll_out(state: F64, horizon_s: F64, cfg: VehicleModelConfig) -> F64:
    """(3, 2) ``[p, v, a]`` -> (T, 2) positions at ``horizon_s`` (T,) seconds ahead (Singer mean)."""
    return np.stack([singer_transition(float(h), cfg.manoeuvre_tau_s)[0] @ state for h in horizon_s])


def vehicle_path(t_s: F64, xy_m: F64, stamp_s: float, horizon_s: F64, cfg: VehicleModelConfig) -> F64 | None:
    """(K,) stamps and (K, 2) positions up to ``stamp_s`` -> (T, 2) positions at ``stamp_s + horizon_s``.

    None when the history has fewer than ``min_points`` samples (the caller falls back to constant
    velocity). Samples after ``stamp_s`` are ignored; a history ending before it is extrapolated.
    """
    keep = np.isfinite(xy_m).all(axis=1) & (t_s <= stamp_s + 1e-6)
    t, xy = t_s[keep], xy_m[keep]
    if len(t) < max(cfg.min_points, 2) or bool((np.diff(t) <= 1e-6).any()):
        return None
    state = filter_history(t, xy, cfg)
    if float(np.hypot(*state[1])) < cfg.stationary_speed_mps:
        return np.repeat(state[0][None], len(horizon_s), axis=0)
    return roll_out(state, horizon_s + (stamp_s - float(t[-1])), cfg)
