"""Multi-object tracking: the ``Tracker`` seam, our tracker, its config, motion models and association."""

from lepton_perception.core.tracking.base import Tracker
from lepton_perception.core.tracking.config import TrackerConfig
from lepton_perception.core.tracking.tracker import MultiObjectTracker

__all__ = ["MultiObjectTracker", "Tracker", "TrackerConfig"]
