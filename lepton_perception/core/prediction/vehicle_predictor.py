"""The vehicle route of the predictor: the Singer model (vehicle.py) on each track's ground history.

The history is first resampled by stamps onto the predictor's grid (``stamp_s - step_s * k``, k = 0..
``obs_len - 1``, only inside the history's span), as the RNN's input is: the filter's noise model
assumes independent position errors, which holds for samples 0.4 s apart but not for a 10 Hz
tracker history (consecutive ground fixes share their errors; filtering all of them measured worse
than constant velocity on the Lyft scene, docs/prediction.md). It also makes a path independent of
the camera's frame rate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from lepton_perception.core.prediction.data import F64
from lepton_perception.core.prediction.history import cv_path, finite_ground, interp_rows, samples
from lepton_perception.core.prediction.vehicle import VehicleModelConfig, vehicle_path
from lepton_perception.core.types import PredictedPath, Track


def moving_significantly(track: Track, chi2: float) -> bool:
    """Is the track's own filtered velocity distinguishable from zero given its covariance?

    The tracker's (or fusion's) state has seen every measurement with its own noise; its velocity
    covariance says whether a small speed is motion or noise. A re-filtered history cannot say that:
    its samples are the tracker's outputs, whose errors are shared from one sample to the next.
    """
    if track.ground is None or chi2 <= 0:
        return True
    v = np.asarray(track.ground.velocity_mps, dtype=np.float64)
    cov = np.asarray(track.ground.covariance, dtype=np.float64)[2:, 2:]
    if not (np.isfinite(v).all() and np.isfinite(cov).all()):
        return True
    return float(v @ np.linalg.solve(cov + 1e-6 * np.eye(2), v)) > chi2


class VehiclePathPredictor:
    """Implements ``Predictor``; a history too short for the filter gets constant velocity (counted)."""

    name = "singer"

    def __init__(
        self,
        config: VehicleModelConfig,
        step_s: float = 0.4,
        pred_len: int = 12,
        max_extrapolation_s: float = 1.0,
        obs_len: int = 8,
    ) -> None:
        self.config = config
        self.step_s = step_s
        self.obs_len = obs_len
        self.steps_s = np.arange(1, pred_len + 1, dtype=np.float64) * step_s  # (T,) s ahead
        self.max_extrapolation_s = max_extrapolation_s
        self.counts: Counter[str] = Counter()

    def path(self, track: Track, stamp_s: float) -> PredictedPath | str:
        """The Singer path of one track with a finite ground state, or why it cannot have one."""
        got = samples(track, stamp_s, self.max_extrapolation_s, self.counts)
        if isinstance(got, str):
            return got
        t, xy_hist = self.resample(got[0], got[1], stamp_s)
        if track.ground is not None and not moving_significantly(track, self.config.stationary_chi2):
            here = np.asarray(track.ground.position_m, dtype=np.float64)
            still = np.repeat(here[None], len(self.steps_s), axis=0)  # (T, 2): stays put
            return PredictedPath(track.track_id, stamp_s + self.steps_s, still, 1.0, self.name)
        xy = vehicle_path(t, xy_hist, stamp_s, self.steps_s, self.config)
        if xy is None:
            return "vehicle_short_history"
        return PredictedPath(track.track_id, stamp_s + self.steps_s, xy, 1.0, self.name)

    def resample(self, t_s: F64, xy_m: F64, stamp_s: float) -> tuple[F64, F64]:
        """(K,) stamps ending at ``stamp_s`` and (K, 2) positions -> the grid points inside their span."""
        grid = stamp_s - self.step_s * np.arange(self.obs_len - 1, -1, -1, dtype=np.float64)
        grid = grid[grid >= t_s[0] - 0.25 * self.step_s]  # a frame-jittered first sample still counts
        if len(t_s) < 2 or len(grid) == 0:
            return t_s, xy_m
        return grid, interp_rows(t_s, xy_m, grid)

    def predict(self, tracks: Sequence[Track], stamp_s: float) -> list[PredictedPath]:
        out = []
        for track in tracks:
            if not finite_ground(track):
                continue
            got = self.path(track, stamp_s)
            if isinstance(got, str):
                self.counts[got] += 1
                got = cv_path(track, stamp_s, self.steps_s)
            out.append(got)
        return out
