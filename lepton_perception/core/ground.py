"""Where detected objects stand on the road: the seam between image boxes and ground-plane positions.

The tracker asks a ``GroundLocator`` for the ground position of each matched or new-born box and
fuses it in its ground-plane filter; it never knows how the position was found or in which frame.
Implementations:

- ``BoxFootLocator``: the bottom-centre of the box intersected with the flat road of the vehicle
  frame (``base_link``), pixel noise proportional to the box height;
- richer monocular estimators (class size priors, centre offsets) and world-frame wrappers that
  apply the ego pose (``odom``) implement the same Protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from lepton_perception.core.camera import GroundProjector

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class GroundFix(NamedTuple):
    """Ground positions of N boxes in the locator's ``frame_id``; invalid rows are NaN."""

    xy_m: F64  # (N, 2) metres
    cov_m2: F64  # (N, 2, 2) metres^2
    valid: BoolArray  # (N,)


class GroundLocator(Protocol):
    """Image boxes -> ground positions with covariance, in the frame named by ``frame_id``."""

    @property
    def frame_id(self) -> str: ...

    def locate(self, boxes_xyxy: F64, class_ids: I64) -> GroundFix:
        """(N, 4) xyxy boxes in pixels and their (N,) COCO class ids -> N ground fixes."""
        ...


def no_fix(n: int) -> GroundFix:
    """N invalid fixes (no locator, or nothing to locate)."""
    return GroundFix(np.full((n, 2), np.nan), np.full((n, 2, 2), np.nan), np.zeros(n, bool))


@dataclass(frozen=True)
class BoxFootLocator:
    """The box's bottom-centre projected onto the road plane of the vehicle frame.

    The foot point's pixel std is ``foot_noise_h`` box heights (taller, nearer boxes are less sure in
    pixels), never below the projector's own ``pixel_sigma_px``.
    """

    projector: GroundProjector
    foot_noise_h: float = 0.03
    frame: str = "base_link"

    @property
    def frame_id(self) -> str:
        return self.frame

    def locate(self, boxes_xyxy: F64, class_ids: I64) -> GroundFix:
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return no_fix(0)
        foot = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
        sigma = np.maximum(self.foot_noise_h * (boxes[:, 3] - boxes[:, 1]), self.projector.pixel_sigma_px)
        return GroundFix(*self.projector.to_ground(foot, sigma_px=sigma))


@dataclass(frozen=True)
class SizePrior:
    """A class's 3D size: height mean and std-dev, footprint length and width (metres)."""

    height_m: float
    height_std_m: float
    length_m: float
    width_m: float

    def centre_offset_m(self) -> tuple[float, float]:
        """Mean and std-dev of the distance from the nearest footprint point to the centre along the ray.

        For a box footprint at a uniformly unknown yaw the nearest point lies ``L/2 |cos a| + W/2 |sin a|``
        in front of the centre: mean ``(L + W) / pi``, variance from E[cos^2] = E[sin^2] = 1/2 and
        E|cos sin| = 1/pi.
        """
        half_l, half_w = self.length_m / 2, self.width_m / 2
        mean = 2 * (half_l + half_w) / np.pi
        second = (half_l**2 + half_w**2) / 2 + 2 * half_l * half_w / np.pi
        return float(mean), float(np.sqrt(max(second - mean**2, 0.0)))


# COCO class id -> size prior (KITTI / nuScenes class statistics; unknown classes: no height cue).
SIZE_PRIORS: dict[int, SizePrior] = {
    0: SizePrior(1.72, 0.12, 0.6, 0.6),  # person
    1: SizePrior(1.70, 0.15, 1.75, 0.6),  # bicycle with rider
    2: SizePrior(1.53, 0.14, 4.0, 1.7),  # car
    3: SizePrior(1.50, 0.20, 2.1, 0.8),  # motorcycle with rider
    5: SizePrior(3.2, 0.35, 11.0, 2.6),  # bus
    7: SizePrior(2.8, 0.7, 7.0, 2.4),  # truck
}


@dataclass(frozen=True)
class FusedGroundLocator:
    """Two range cues fused by inverse variance, then moved from the nearest face to the centre.

    Along the viewing ray through the box's bottom-centre, the depth of the object's nearest face
    comes from
    - ground contact: the box bottom on the flat road (pixel std ``foot_noise_h`` box heights plus
      ``pitch_std_rad`` of unmodelled camera pitch / road slope, which dominates far away);
    - object height: ``fy x class height / box height`` (std from the class height spread and
      ``height_noise_h`` of the box height), only for classes with a size prior and boxes that do not
      touch the top or bottom image border (a cut box is not the object's height).
    The fused depth plus the class's expected nearest-face-to-centre offset along the ray gives the
    centre; its covariance is the fused depth variance (plus the offset's spread) along the ray and
    the pixel noise across it. Classes without a prior get the ground-contact cue alone.
    """

    projector: GroundProjector
    foot_noise_h: float = 0.03
    height_noise_h: float = 0.05
    pitch_std_rad: float = 0.01
    frame: str = "base_link"

    @property
    def frame_id(self) -> str:
        return self.frame

    def _priors(self, class_ids: I64) -> tuple[F64, F64, F64, F64, BoolArray]:
        """(N,) height mean, height std, centre offset mean, offset std, has-prior."""
        rows = [SIZE_PRIORS.get(int(c)) for c in class_ids]
        has = np.array([r is not None for r in rows], bool)
        out = np.zeros((4, len(rows)))
        for i, r in enumerate(rows):
            if r is not None:
                out[:, i] = (r.height_m, r.height_std_m, *r.centre_offset_m())
        return out[0], out[1], out[2], out[3], has

    def locate(self, boxes_xyxy: F64, class_ids: I64) -> GroundFix:
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        n = len(boxes)
        if n == 0:
            return no_fix(0)
        k, t = self.projector.intrinsics, self.projector.pose.translation()
        h_px = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        foot = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
        ray = self.projector.rays(foot)  # (N, 3) vehicle frame
        ray_h = np.linalg.norm(ray[:, :2], axis=1)
        bearing = ray[:, :2] / ray_h[:, None]  # (N, 2) unit, horizontal
        # Depth along the optical axis is what both cues measure; the horizontal range along the ray
        # is depth x (|ray_h| / ray_forward), ray_forward the component along the optical axis.
        axis = self.projector.pose.rotation()[:, 2]
        scale = ray_h / (ray @ axis)  # horizontal range per unit depth
        ground, _, ok_g = self.projector.to_ground(foot)
        r_foot = np.linalg.norm(ground - t[None, :2], axis=1)
        # d(range)/d(v) for the flat-road intersection: range^2 / (fy x camera height) x (1 + ...)
        dr_dv = r_foot**2 / (k.fy * t[2])
        sig_v = np.hypot(
            np.maximum(self.foot_noise_h * h_px, self.projector.pixel_sigma_px), k.fy * self.pitch_std_rad
        )
        var_foot = (dr_dv * sig_v) ** 2
        hm, hs, off, off_s, has = self._priors(np.asarray(class_ids).reshape(-1))
        whole = (boxes[:, 1] > 1.0) & (boxes[:, 3] < k.height - 1.0)
        r_height = k.fy * hm / h_px * scale
        var_height = r_height**2 * ((hs / np.maximum(hm, 1e-9)) ** 2 + self.height_noise_h**2)
        use_h = has & whole
        w_f = np.where(ok_g, 1.0 / np.maximum(var_foot, 1e-12), 0.0)
        w_h = np.where(use_h, 1.0 / np.maximum(var_height, 1e-12), 0.0)
        wsum = w_f + w_h
        valid = wsum > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            rng = (w_f * np.nan_to_num(r_foot) + w_h * np.nan_to_num(r_height)) / wsum + off
            var_r = 1.0 / wsum + off_s**2
        valid &= np.isfinite(rng) & (rng <= self.projector.max_range_m)
        xy = t[None, :2] + rng[:, None] * bearing
        var_lat = (rng * np.maximum(self.foot_noise_h * h_px, self.projector.pixel_sigma_px) / k.fx) ** 2 + (
            off_s**2
        )
        normal = np.stack([-bearing[:, 1], bearing[:, 0]], axis=1)
        cov = var_r[:, None, None] * np.einsum("ni,nj->nij", bearing, bearing) + var_lat[
            :, None, None
        ] * np.einsum("ni,nj->nij", normal, normal)
        xy[~valid] = np.nan
        cov[~valid] = np.nan
        return GroundFix(xy, cov, valid)
