"""The world-frame ground locator of a moving vehicle.

The vehicle-frame locator it wraps is the node's ``FusedGroundLocator`` (``core/ground.py``: ground
contact, class-size centre offset, no fix for boxes cut by the image border).
``WorldGroundLocator`` wraps any vehicle-frame locator and applies the ego pose at the image stamp:
  positions into the fixed frame (``odom``), covariances rotated (``R C R^T``). The tracker then filters
  positions and velocities over ground: a parked car keeps ~0 m/s while the ego drives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lepton_perception.core.camera import GroundProjector
from lepton_perception.core.ground import F64, I64, GroundFix, GroundLocator
from lepton_perception.core.world.ego import EgoPose
from lepton_perception.core.world.image_motion import EgoImageMotion


@dataclass(frozen=True)
class WorldGroundLocator:
    """A vehicle-frame locator seen from the fixed frame through the ego pose at one image stamp.

    Build one per image (``WorldGroundLocator(base, poses.at(stamp_s))``) after checking the pose
    exists; ``frame`` names the fixed frame the pose is in.
    """

    base: GroundLocator
    pose: EgoPose
    frame: str = "odom"

    @property
    def frame_id(self) -> str:
        return self.frame

    def locate(self, boxes_xyxy: F64, class_ids: I64) -> GroundFix:
        fix = self.base.locate(boxes_xyxy, class_ids)
        rot = self.pose.rotation()
        xy: npt.NDArray[np.float64] = self.pose.to_fixed(fix.xy_m)
        cov: npt.NDArray[np.float64] = rot @ fix.cov_m2 @ rot.T  # (N, 2, 2), NaN rows stay NaN
        return GroundFix(xy, cov, fix.valid, fix.bounded)

    def motion_since(self, previous: object) -> EgoImageMotion | None:
        """The image motion of this camera from ``previous`` (the locator of its earlier image) to this
        image, for the tracker's ego-motion compensation; None unless both see through the same camera
        (same vehicle-frame locator, so the same mount) in the same fixed frame."""
        if not isinstance(previous, WorldGroundLocator) or previous.base is not self.base:
            return None
        projector = getattr(self.base, "projector", None)
        if previous.frame != self.frame or not isinstance(projector, GroundProjector):
            return None
        return EgoImageMotion(projector, previous.pose, self.pose)
