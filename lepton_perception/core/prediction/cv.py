"""Constant velocity: the Kalman ground velocity held over the horizon (the fallback of every route)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lepton_perception.core.prediction.history import cv_path, finite_ground
from lepton_perception.core.types import PredictedPath, Track


class ConstantVelocityPredictor:
    """Implements ``Predictor``: position + Kalman velocity x time, ``pred_len`` steps of ``step_s``."""

    name = "cv"

    def __init__(self, step_s: float = 0.4, pred_len: int = 12) -> None:
        if step_s <= 0 or pred_len < 1:
            raise ValueError(f"need step_s > 0 and pred_len >= 1, got {step_s}, {pred_len}")
        self.steps_s = np.arange(1, pred_len + 1, dtype=np.float64) * step_s  # (T,) s ahead

    def predict(self, tracks: Sequence[Track], stamp_s: float) -> list[PredictedPath]:
        return [cv_path(t, stamp_s, self.steps_s) for t in tracks if finite_ground(t)]
