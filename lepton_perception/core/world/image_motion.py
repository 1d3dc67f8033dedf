"""Ego-motion compensation in the image: where the ego's own motion moves a box between two images.

A camera on a moving vehicle sees every static object slide across its image: near a parked car at
10 m/s, tens of pixels between frames. An image-space Kalman filter that does not know this predicts
the box where it was; a young track (no image velocity learnt yet) then misses its object in the next
image and a new track is born every frame, while an old track learns the ego's motion as the object's
(BoT-SORT compensates the same effect with a global image warp estimated from image features). With
odometry the warp is known: carry the box's foot point on the road from the earlier image through the
two ego poses (the object is taken to be static in the fixed frame, the right prior: the filter adds
the object's own motion) into the later image, and scale the box by the ratio of the depths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lepton_perception.core.camera import GroundProjector
from lepton_perception.core.ground import F64
from lepton_perception.core.world.ego import EgoPose


@dataclass(frozen=True)
class EgoImageMotion:
    """The image motion of one camera between the images taken at ``before`` and ``after``."""

    projector: GroundProjector
    before: EgoPose
    after: EgoPose

    def warp_cxcywh(self, boxes: F64) -> F64:
        """(N, 4) boxes (cx, cy, w, h) px in the earlier image -> the same boxes in the later image.

        A box whose foot does not hit the road (at or above the horizon, beyond the projector's range)
        or lands behind the camera is returned unchanged: there is no ground point to carry.
        """
        out = np.array(boxes, dtype=np.float64, copy=True)
        if len(out) == 0:
            return out
        foot = np.stack([out[:, 0], out[:, 1] + out[:, 3] / 2], axis=1)  # (N, 2) bottom centre px
        xy, _, valid = self.projector.to_ground(foot)
        moved = self.after.to_base(self.before.to_fixed(np.where(valid[:, None], xy, 0.0)))
        z_before, z_after = self._depth(xy), self._depth(moved)
        uv = self.projector.to_image(np.column_stack([moved, np.zeros(len(moved))]))
        ok = valid & np.isfinite(uv).all(axis=1) & (z_after > 0) & (z_before > 0)
        scale = np.where(ok, z_before / np.where(ok, z_after, 1.0), 1.0)
        out[ok, 2] *= scale[ok]
        out[ok, 3] *= scale[ok]
        out[ok, 0] = uv[ok, 0]
        out[ok, 1] = uv[ok, 1] - out[ok, 3] / 2
        return out

    def _depth(self, xy: F64) -> F64:
        """(N,) depth m along the optical axis of road points (N, 2) in the vehicle frame."""
        p = np.column_stack([xy, np.zeros(len(xy))]) - self.projector.pose.translation()
        depth: F64 = p @ self.projector.pose.rotation()[:, 2]
        return depth
