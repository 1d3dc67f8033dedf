"""The predictor seam: confirmed tracks in, predicted ground-plane paths out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lepton_perception.core.types import PredictedPath, Track


class Predictor(Protocol):
    name: str

    def predict(self, tracks: Sequence[Track], stamp_s: float) -> list[PredictedPath]:
        """Paths for the tracks that have a ground state; times are absolute seconds."""
        ...
