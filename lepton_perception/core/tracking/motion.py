"""Constant-velocity Kalman motion models whose transition and process noise come from the real ``dt``.

The model is specified by a filterpy ``KalmanFilter`` (``H``, dimensions) with filterpy's discrete
white-noise process noise (``Q_discrete_white_noise``, in closed form); the per-track states are
stacked into arrays so that one call predicts or updates every track at once. The arithmetic is
filterpy's ``KalmanFilter.predict`` / ``KalmanFilter.update``, batched (the covariance update in the
short form, equal to filterpy's Joseph form for the optimal gain): one filterpy predict + update of
an 8-state filter takes ~50 us, so a per-track loop would exceed the 1 ms budget for 50 tracks
(``test_motion.py`` checks the batched result against filterpy step by step).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt
from filterpy.kalman import KalmanFilter

F64 = npt.NDArray[np.float64]


class MotionModel(Protocol):
    """Batched linear-Gaussian motion model over N tracks; ``x`` is (N, dim_x), ``P`` (N, dim_x, dim_x)."""

    dim_x: int
    dim_z: int

    def predict(self, x: F64, P: F64, dt_s: float, accel_var: F64) -> tuple[F64, F64]:
        """Advance every track by ``dt_s`` seconds; ``accel_var`` (N, dim_z) is the white-acceleration
        variance per axis (units^2 / s^4)."""
        ...

    def update(self, x: F64, P: F64, z: F64, R: F64) -> tuple[F64, F64]:
        """Fuse measurements ``z`` (N, dim_z) with covariance ``R`` (N, dim_z, dim_z)."""
        ...


class ConstantVelocityModel:
    """State ``[p_1..p_n, v_1..v_n]`` for ``n`` independent axes, each a white-acceleration CV model."""

    def __init__(self, n_axes: int) -> None:
        self.dim_z = n_axes
        self.dim_x = 2 * n_axes
        # The filterpy filter is the specification: measurement matrix and dimensions.
        self.spec = KalmanFilter(dim_x=self.dim_x, dim_z=self.dim_z)
        self.spec.H = np.eye(self.dim_z, self.dim_x)
        self._eye: F64 = np.eye(self.dim_x)
        self._axis_of = np.tile(np.arange(n_axes), 2)  # state index -> axis
        # dt rounded to 1 ns (differences of stamps carry rounding noise) -> (F, q, q_unit).
        self._cache: dict[float, tuple[F64, F64, F64]] = {}

    def to_filterpy(self, x: F64, P: F64) -> KalmanFilter:
        """One track's state (x (dim_x,), P (dim_x, dim_x)) as a filterpy ``KalmanFilter`` built from
        the specification, e.g. to inspect a track or to check this batched model against filterpy."""
        kf = KalmanFilter(dim_x=self.dim_x, dim_z=self.dim_z)
        kf.H = self.spec.H.copy()
        kf.x = np.asarray(x, dtype=np.float64).reshape(-1, 1).copy()
        kf.P = np.asarray(P, dtype=np.float64).copy()
        return kf

    def _matrices(self, dt_s: float) -> tuple[F64, F64, F64]:
        key = round(dt_s, 9)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        n = self.dim_z
        F = self._eye.copy()
        F[:n, n:] = np.eye(n) * dt_s
        # filterpy's Q_discrete_white_noise(dim=2, dt, var=1) in closed form (that function builds a
        # scipy block_diag, ~60 us): [[dt^4/4, dt^3/2], [dt^3/2, dt^2]] per axis.
        q = np.array([[dt_s**4 / 4, dt_s**3 / 2], [dt_s**3 / 2, dt_s**2]])
        q_unit = np.zeros((self.dim_x, self.dim_x))  # (dim_x, dim_x): unit variance on every axis
        ax = np.arange(n)
        q_unit[ax, ax], q_unit[ax, ax + n], q_unit[ax + n, ax], q_unit[ax + n, ax + n] = q.ravel()
        if len(self._cache) > 32:  # irregular stamps: keep the cache small
            self._cache.clear()
        self._cache[key] = (F, q, q_unit)
        return F, q, q_unit

    def transition(self, dt_s: float) -> tuple[F64, F64]:
        """``F`` (dim_x, dim_x) and the unit-variance (2, 2) white-noise block for one axis."""
        F, q, _ = self._matrices(dt_s)
        return F, q

    def process_noise(self, dt_s: float, accel_var: F64) -> F64:
        """(N, dim_x, dim_x) process noise for per-track, per-axis acceleration variances (N, n)."""
        _, _, q_unit = self._matrices(dt_s)
        # Entry (i, j) is non-zero only when i and j belong to the same axis, so scaling row i by
        # that axis' variance scales the whole per-axis block.
        result: F64 = q_unit[None] * accel_var[:, self._axis_of][:, :, None]
        return result

    def predict(self, x: F64, P: F64, dt_s: float, accel_var: F64) -> tuple[F64, F64]:
        if len(x) == 0 or dt_s == 0.0:
            return x, P
        F, _ = self.transition(dt_s)
        x_new: F64 = x @ F.T
        P_new: F64 = F @ P @ F.T + self.process_noise(dt_s, accel_var)
        return x_new, P_new

    def update(self, x: F64, P: F64, z: F64, R: F64) -> tuple[F64, F64]:
        if len(x) == 0:
            return x, P
        n = self.dim_z
        # H selects the first n state entries, so H P H^T and P H^T are slices.
        PHt = P[:, :, :n]
        K: F64 = PHt @ _inv(P[:, :n, :n] + R)  # (N, dim_x, n)
        y = z - x[:, :n]
        x_new: F64 = x + (K @ y[:, :, None])[:, :, 0]
        # (I - K H) P, symmetrised: equal to filterpy's Joseph form for the optimal gain K (checked
        # in test_motion.py) at a third of the matrix products.
        P_new: F64 = P - K @ P[:, :n, :]
        P_new = (P_new + P_new.transpose(0, 2, 1)) / 2
        return x_new, P_new


def _inv(S: F64) -> F64:
    """Batched inverse of (N, n, n) symmetric positive definite matrices; closed form for 2x2 (the
    general LAPACK path costs ~30 us of call overhead for a small batch)."""
    n = S.shape[1]
    if n != 2:
        diag = np.einsum("nii->ni", S)
        if np.count_nonzero(S) == np.count_nonzero(diag):
            # Diagonal (independent axes with diagonal R, as in the box model): reciprocals suffice.
            out_d = np.zeros_like(S)
            np.einsum("nii->ni", out_d)[...] = 1.0 / diag
            return out_d
        result: F64 = np.asarray(np.linalg.inv(S), dtype=np.float64)
        return result
    a, b, d = S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]
    det = a * d - b * b
    out = np.empty_like(S)
    out[:, 0, 0], out[:, 1, 1] = d / det, a / det
    out[:, 0, 1] = out[:, 1, 0] = -b / det
    return out
