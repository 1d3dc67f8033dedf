"""Multi-object tracking: motion models, association, and the tracker step."""

from lepton_perception.core.tracking.tracker import MultiObjectTracker, TrackerConfig

__all__ = ["MultiObjectTracker", "TrackerConfig"]
