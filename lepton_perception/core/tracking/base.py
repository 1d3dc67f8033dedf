"""The seam between the pipeline and a tracker: image detections of one camera in, track snapshots out."""

from __future__ import annotations

from typing import Protocol

from lepton_perception.core.ground import GroundLocator
from lepton_perception.core.types import Detections, Track


class Tracker(Protocol):
    """Tracks the objects of one camera; ids are unique within one instance."""

    @property
    def skipped_detections(self) -> int:
        """Detections rejected so far as invalid (non-finite or empty boxes, non-finite scores)."""
        ...

    def step(
        self, detections: Detections, stamp_s: float, locator: GroundLocator | None = None
    ) -> list[Track]:
        """Advance to ``stamp_s`` (seconds, from the image stamp; never backwards) and fuse
        ``detections``; ground positions come from ``locator`` in its frame (none without one)."""
        ...
