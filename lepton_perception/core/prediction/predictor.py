"""The runtime predictor: a router by category over separate predictors (each a ``Predictor``).

Per call, for every track with a finite ground state:

- pedestrians and cyclists with enough history go to the GRU (``rnn.RnnPredictor``, one batched
  forward pass); the others get constant velocity, counted by reason (``short_history``, ``stale``,
  ``no_history``);
- vehicles go to the Singer vehicle model (``vehicle_predictor.VehiclePathPredictor``, filtered
  manoeuvring-target model with a stationary test; docs/prediction.md), or constant velocity when
  ``vehicle_model="cv"`` or the history is too short;
- anything else (unknown category) gets constant velocity.

``fallback_counts()`` says why tracks got which predictor. Paths keep the input order; times are
``stamp_s + step_s * k``, k = 1..pred_len; positions are in the tracks' ground frame (any fixed frame).
This module does not import torch: the RNN is built on first use by the constructor, or injected.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lepton_perception.core.prediction.config import PredictorConfig
from lepton_perception.core.prediction.cv import ConstantVelocityPredictor
from lepton_perception.core.prediction.data import F64
from lepton_perception.core.prediction.history import cv_path, finite_ground
from lepton_perception.core.prediction.vehicle_predictor import VehiclePathPredictor
from lepton_perception.core.types import Category, PredictedPath, Track

if TYPE_CHECKING:
    from lepton_perception.core.prediction.model import TrajectoryGRU
    from lepton_perception.core.prediction.rnn import RnnPredictor

log = logging.getLogger(__name__)

__all__ = ["PredictorConfig", "RoutedPredictor"]


class RoutedPredictor:
    """Implements ``Predictor``: each track to the predictor for its category, CV as the fallback."""

    name = "routed"

    def __init__(
        self,
        config: PredictorConfig | None = None,
        model: TrajectoryGRU | None = None,
        rnn: RnnPredictor | None = None,
    ) -> None:
        if rnn is None:
            from lepton_perception.core.prediction.rnn import RnnPredictor  # torch only here

            rnn = RnnPredictor(config, model)
        config = config or rnn.config
        self.config = config
        self.rnn = rnn
        step_s, pred_len = rnn.step_s, len(rnn.steps_s)
        self.steps_s: F64 = rnn.steps_s
        self.cv = ConstantVelocityPredictor(step_s, pred_len)
        obs_len = rnn.model.config.obs_len
        self.vehicle = VehiclePathPredictor(
            config.vehicle(), step_s, pred_len, config.max_extrapolation_s, obs_len
        )
        self._counts: Counter[str] = Counter()

    def fallback_counts(self) -> dict[str, int]:
        """Why tracks did not get their category's model, summed since construction (diagnostics)."""
        total = self._counts + self.rnn.counts + self.vehicle.counts
        return dict(total)

    def _fallback(self, track: Track, stamp_s: float, reason: str) -> PredictedPath:
        self._counts[reason] += 1
        log.debug("track %d: constant velocity (%s)", track.track_id, reason)
        return cv_path(track, stamp_s, self.steps_s)

    def _vehicle(self, track: Track, stamp_s: float) -> PredictedPath:
        if self.config.vehicle_model == "cv":
            return cv_path(track, stamp_s, self.steps_s)
        got = self.vehicle.path(track, stamp_s)
        return self._fallback(track, stamp_s, got) if isinstance(got, str) else got

    def _usable(self, track: Track) -> bool:
        if track.ground is None:
            self._counts["no_ground_state"] += 1
            return False
        if not finite_ground(track):
            self._counts["bad_ground_state"] += 1
            log.debug("track %d: non-finite ground state, no path", track.track_id)
            return False
        return True

    def predict(self, tracks: Sequence[Track], stamp_s: float) -> list[PredictedPath]:
        paths: dict[int, PredictedPath] = {}
        order: list[int] = []
        agents: list[int] = []
        observations: list[F64] = []
        for i, track in enumerate(tracks):
            if not self._usable(track):
                continue
            order.append(i)
            if track.category == Category.VEHICLE:
                paths[i] = self._vehicle(track, stamp_s)
            elif track.category in (Category.PEDESTRIAN, Category.CYCLIST):
                obs, reason = self.rnn.observation(track, stamp_s)
                if obs is None:
                    paths[i] = self._fallback(track, stamp_s, reason)
                else:
                    agents.append(i)
                    observations.append(obs)
            else:
                paths[i] = self._fallback(track, stamp_s, "unknown_category")
        paths.update(zip(agents, self.rnn.predict_agents(tracks, stamp_s, agents, observations)))
        return [paths[i] for i in order]
