"""Ground locators for a moving vehicle: a class-size centre offset, and the world-frame wrapper.

- ``CentreOffsetLocator`` wraps a ``BoxFootLocator``: the bottom edge of a 2D box is the *nearest*
  bottom point of the object, not its centre. The fix is pushed away from the camera along the ground
  ray by the object's expected half-depth (the mean, over viewing angles, of the support function of a
  class-typical footprint: ``(2 / pi) (L / 2 + W / 2)``), and the spread of that half-depth over
  viewing angles is added to the covariance along the ray.
- ``WorldGroundLocator`` wraps any vehicle-frame locator and applies the ego pose at the image stamp:
  positions into the fixed frame (``odom``), covariances rotated (``R C R^T``). The tracker then filters
  positions and velocities over ground: a parked car keeps ~0 m/s while the ego drives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lepton_perception.core.ground import F64, I64, BoxFootLocator, GroundFix, GroundLocator
from lepton_perception.core.types import Category, category_of
from lepton_perception.core.world.ego import EgoPose


def _half_depth(length_m: float, width_m: float) -> tuple[float, float]:
    """Mean and std (m) over uniform viewing angles of the footprint's support function."""
    th = np.linspace(0.0, math.pi / 2, 91)
    h = length_m / 2 * np.cos(th) + width_m / 2 * np.sin(th)
    return float(h.mean()), float(h.std())


# Class-typical footprints (length, width in metres): a mid-size car, a walking adult, a bicycle.
_FOOTPRINT_M: dict[Category, tuple[float, float]] = {
    Category.VEHICLE: (4.6, 1.9),
    Category.PEDESTRIAN: (0.5, 0.5),
    Category.CYCLIST: (1.8, 0.6),
}
HALF_DEPTH_M: dict[Category, tuple[float, float]] = {c: _half_depth(*lw) for c, lw in _FOOTPRINT_M.items()}


@dataclass(frozen=True)
class CentreOffsetLocator:
    """The box foot moved from the object's nearest point to its expected centre (same frame)."""

    foot: BoxFootLocator
    # A box this close to the left, right or bottom image border is cut by it: its bottom-centre is not
    # the object's, so it gives no fix (the track coasts on its ground filter). 0 px: keep them.
    border_px: float = 2.0

    @property
    def frame_id(self) -> str:
        return self.foot.frame_id

    def locate(self, boxes_xyxy: F64, class_ids: I64) -> GroundFix:
        fix = self.foot.locate(boxes_xyxy, class_ids)
        if len(fix.valid) == 0:
            return fix
        if self.border_px > 0:
            fix = self._drop_truncated(np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4), fix)
        cam = self.foot.projector.pose.translation()[:2]
        ray = fix.xy_m - cam  # (N, 2) camera -> foot on the ground
        unit = ray / np.maximum(np.linalg.norm(ray, axis=1, keepdims=True), 1e-6)
        stats = np.array(
            [HALF_DEPTH_M.get(category_of(int(c)), (0.0, 0.0)) for c in np.asarray(class_ids).reshape(-1)]
        ).reshape(-1, 2)
        xy = fix.xy_m + stats[:, :1] * unit
        cov = fix.cov_m2 + (stats[:, 1] ** 2)[:, None, None] * (unit[:, :, None] * unit[:, None, :])
        return GroundFix(xy, cov, fix.valid)

    def _drop_truncated(self, boxes: F64, fix: GroundFix) -> GroundFix:
        k, b = self.foot.projector.intrinsics, self.border_px
        cut = (boxes[:, 0] <= b) | (boxes[:, 2] >= k.width - b) | (boxes[:, 3] >= k.height - b)
        if not cut.any():
            return fix
        xy, cov = fix.xy_m.copy(), fix.cov_m2.copy()
        xy[cut], cov[cut] = np.nan, np.nan
        return GroundFix(xy, cov, fix.valid & ~cut)


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
        return GroundFix(xy, cov, fix.valid)
