"""Ground-plane filtering of tracks: a constant-velocity Kalman filter per track over [x, y, vx, vy].

Positions come from a ``GroundLocator`` (``core/ground.py``) in its own frame (``base_link``, ``odom``,
...); this module never knows which frame or which monocular method produced them. It reads and
writes the ground columns of a ``TrackStore`` (``gx``, ``gcov``, ``g_valid``, ``g_last_s``, ``history``).

A ground state is never extrapolated further than the coast horizon from its last fix: a track whose
boxes keep matching but whose fixes are invalid (e.g. its foot point is above the horizon) loses its
ground state after ``coast_s`` (``expire``) and starts afresh from its next valid fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lepton_perception.core.ground import GroundFix, GroundLocator, no_fix
from lepton_perception.core.tracking.motion import MotionModel
from lepton_perception.core.tracking.store import GroundHistory, TrackStore

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class GroundNoise:
    """Process noise and initial uncertainty of the ground filter."""

    accel_mps2: float  # white-acceleration std of vehicles / unknown objects, m/s^2
    slow_accel_mps2: float  # the same for pedestrian-like classes, m/s^2
    initial_speed_mps: float  # initial velocity std, m/s
    history_s: float  # ground history kept per track, s
    coast_s: float  # a ground state without a fix for longer than this is dropped, s


def locate(locator: GroundLocator | None, boxes: F64, classes: I64) -> GroundFix:
    """Ground fixes of (N, 4) xyxy boxes; all invalid without a locator."""
    if locator is None or len(boxes) == 0:
        return no_fix(len(boxes))
    return locator.locate(boxes, classes)


# A state this far (squared Mahalanobis distance, position, 2 dof) from a bound's region contradicts it.
BOUND_GATE_CHI2 = 13.8  # 99.9 %


def _bound_informs(gx: F64, gcov: F64, fix: GroundFix) -> BoolArray:
    """(N,) where fusing bounded fixes ``fix`` into states (N, 4), (N, 4, 4) adds information: the
    state's position is outside the bound's region or less certain than the bound."""
    d = fix.xy_m - gx[:, :2]  # (N, 2) m
    S = gcov[:, :2, :2] + fix.cov_m2  # (N, 2, 2) m^2
    with np.errstate(invalid="ignore"):
        d2 = np.einsum(
            "ni,ni->n", d, np.linalg.solve(np.nan_to_num(S) + 1e-9 * np.eye(2), d[..., None])[..., 0]
        )
        vague = np.trace(gcov[:, :2, :2], axis1=1, axis2=2) > np.trace(fix.cov_m2, axis1=1, axis2=2)
    informs: BoolArray = (d2 > BOUND_GATE_CHI2) | vague
    return informs


class GroundFilter:
    """Predicts and updates the ground state of the tracks in a ``TrackStore``."""

    def __init__(self, model: MotionModel, noise: GroundNoise) -> None:
        if model.dim_z != 2:
            raise ValueError(f"the ground filter needs a 2-axis motion model, got dim_z={model.dim_z}")
        self.model = model
        self.noise = noise

    def predict(self, t: TrackStore, dt_s: float) -> None:
        n = self.noise
        a = np.where(t.slow, n.slow_accel_mps2, n.accel_mps2) ** 2
        t.gx, t.gcov = self.model.predict(t.gx, t.gcov, dt_s, np.repeat(a[:, None], 2, axis=1))

    def expire(self, t: TrackStore, stamp_s: float) -> None:
        """Drop the ground state of tracks without a fix for longer than the coast horizon."""
        stale = t.g_valid & (stamp_s - t.g_last_s > self.noise.coast_s + 1e-9)
        if stale.any():
            t.g_valid[stale] = False
            t.gx[stale], t.gcov[stale] = 0.0, 0.0

    def update(self, t: TrackStore, rows: I64, fix: GroundFix, stamp_s: float) -> None:
        """Fuse valid fixes into tracks ``rows``; a track's first valid fix initialises its state.

        A bounded fix (``GroundFix.bounded``: the same region every image, e.g. the near field below the
        image) is not a new measurement each time: fused every image, its centre would pull the state
        to it however far the object really is. It keeps the state alive and is fused only where it
        says more than the state does: the state lies outside it (squared Mahalanobis distance over
        ``BOUND_GATE_CHI2``), or the state's position is less certain than the bound.
        """
        ok = fix.valid
        if not ok.any():
            return
        fresh = ok & ~t.g_valid[rows]
        upd = ok & t.g_valid[rows]
        if fix.bounded is not None and (upd & fix.bounded).any():
            upd &= ~(fix.bounded & ~_bound_informs(t.gx[rows], t.gcov[rows], fix))
        if fresh.any():
            t.gx[rows[fresh]], t.gcov[rows[fresh]] = self.initial_state(fix.xy_m[fresh], fix.cov_m2[fresh])
            t.g_valid[rows[fresh]] = True
        if upd.any():
            i = rows[upd]
            t.gx[i], t.gcov[i] = self.model.update(t.gx[i], t.gcov[i], fix.xy_m[upd], fix.cov_m2[upd])
        t.g_last_s[rows[ok]] = stamp_s
        keep_s = self.noise.history_s
        for i, (x, y) in zip(rows[ok].tolist(), t.gx[rows[ok], :2].tolist()):
            t.history[i].append(stamp_s, x, y, keep_s)

    def initial_state(self, xy: F64, cov: F64) -> tuple[F64, F64]:
        """(N, 2) positions with (N, 2, 2) covariances -> (N, 4) states at rest, (N, 4, 4) covariances."""
        gx = np.zeros((len(xy), 4))
        gx[:, :2] = xy
        gP = np.zeros((len(xy), 4, 4))
        gP[:, :2, :2] = cov
        gP[:, 2, 2] = gP[:, 3, 3] = self.noise.initial_speed_mps**2
        return gx, gP

    def init_rows(self, new: TrackStore, fix: GroundFix, stamp_s: float) -> None:
        """Ground columns of new-born tracks ``new`` from their first fixes."""
        n, ok = len(fix.valid), fix.valid
        new.gx, new.gcov = np.zeros((n, 4)), np.zeros((n, 4, 4))
        new.g_valid = ok.copy()
        new.g_last_s = np.full(n, stamp_s)
        if ok.any():
            new.gx[ok], new.gcov[ok] = self.initial_state(fix.xy_m[ok], fix.cov_m2[ok])
        new.history = [GroundHistory() for _ in range(n)]
        for k in np.flatnonzero(ok).tolist():
            new.history[k].append(stamp_s, fix.xy_m[k, 0], fix.xy_m[k, 1], self.noise.history_s)
