"""The vehicle route of the predictor: the Singer model (vehicle.py) on each track's ground history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from lepton_perception.core.prediction.history import cv_path, finite_ground, samples
from lepton_perception.core.prediction.vehicle import VehicleModelConfig, vehicle_path
from lepton_perception.core.types import PredictedPath, Track


class VehiclePathPredictor:
    """Implements ``Predictor``; a history too short for the filter gets constant velocity (counted)."""

    name = "singer"

    def __init__(
        self,
        config: VehicleModelConfig,
        step_s: float = 0.4,
        pred_len: int = 12,
        max_extrapolation_s: float = 1.0,
    ) -> None:
        self.config = config
        self.steps_s = np.arange(1, pred_len + 1, dtype=np.float64) * step_s  # (T,) s ahead
        self.max_extrapolation_s = max_extrapolation_s
        self.counts: Counter[str] = Counter()

    def path(self, track: Track, stamp_s: float) -> PredictedPath | str:
        """The Singer path of one track with a finite ground state, or why it cannot have one."""
        got = samples(track, stamp_s, self.max_extrapolation_s, self.counts)
        if isinstance(got, str):
            return got
        xy = vehicle_path(got[0], got[1], stamp_s, self.steps_s, self.config)
        if xy is None:
            return "vehicle_short_history"
        return PredictedPath(track.track_id, stamp_s + self.steps_s, xy, 1.0, self.name)

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
