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
from typing import Literal, NamedTuple, Protocol, runtime_checkable

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
    # (N,) the fix is a bound (the object is somewhere in the region the mean and covariance describe,
    # the same region every image), not a measurement; None: every valid fix is a measurement.
    bounded: BoolArray | None = None


class GroundLocator(Protocol):
    """Image boxes -> ground positions with covariance, in the frame named by ``frame_id``."""

    @property
    def frame_id(self) -> str: ...

    def locate(self, boxes_xyxy: F64, class_ids: I64) -> GroundFix:
        """(N, 4) xyxy boxes in pixels and their (N,) COCO class ids -> N ground fixes."""
        ...


class ImageMotion(Protocol):
    """How the camera's own motion moved boxes from its earlier image to its current one."""

    def warp_cxcywh(self, boxes: F64) -> F64:
        """(N, 4) boxes (cx, cy, w, h) px in the earlier image -> (N, 4) in the current image."""
        ...


@runtime_checkable
class MovingLocator(Protocol):
    """A locator that knows the camera's pose at its image (``core/world/locator.py``), so it can tell
    the tracker how the camera moved since the image of ``previous`` (None: unknown)."""

    def motion_since(self, previous: object) -> ImageMotion | None: ...


def image_motion(previous: GroundLocator | None, current: GroundLocator | None) -> ImageMotion | None:
    """The camera's image motion between two locators' images, where the current one knows it."""
    if previous is None or not isinstance(current, MovingLocator):
        return None
    return current.motion_since(previous)


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
    """A class's 3D size: mean and std-dev of height, length and width (metres)."""

    height_m: float
    height_std_m: float
    length_m: float
    length_std_m: float
    width_m: float
    width_std_m: float
    rigid: bool = True  # False for people: feet and silhouette are under the body's centre

    def centre_offset_m(self) -> tuple[float, float]:
        """Mean and std-dev of the distance from the nearest footprint point to the centre along the ray.

        For a footprint at a uniformly unknown yaw the nearest point lies ``L/2 |cos a| + W/2 |sin a|``
        in front of the centre: mean ``(L + W) / pi``; its variance adds the yaw spread (from
        E[cos^2] = E[sin^2] = 1/2 and E|cos sin| = 1/pi) and the size spread (E[cos^2] = 1/2 each).
        """
        if not self.rigid:
            # A person's lowest image point (the feet) and outline sit around the body's centre; the
            # footprint (stride, arm swing) only spreads it.
            return 0.0, float(np.hypot(self.length_m, self.width_m) / 4)
        half_l, half_w = self.length_m / 2, self.width_m / 2
        mean = 2 * (half_l + half_w) / np.pi
        second = (half_l**2 + half_w**2) / 2 + 2 * half_l * half_w / np.pi
        size_var = (self.length_std_m**2 + self.width_std_m**2) / 8
        return float(mean), float(np.sqrt(max(second - mean**2, 0.0) + size_var))


# COCO class id -> size prior. Car, pedestrian and cyclist: the KITTI 3D-object training-set class
# means and spreads used as priors by monocular 3D detectors (e.g. Deep3DBox, MonoDIS); motorcycle,
# bus and truck from nuScenes class statistics. Unknown classes get no height cue.
SIZE_PRIORS: dict[int, SizePrior] = {
    0: SizePrior(1.76, 0.11, 0.84, 0.23, 0.66, 0.14, rigid=False),  # person
    1: SizePrior(1.74, 0.09, 1.76, 0.18, 0.60, 0.12),  # bicycle with rider
    2: SizePrior(1.53, 0.14, 3.88, 0.43, 1.63, 0.10),  # car
    3: SizePrior(1.47, 0.20, 2.11, 0.30, 0.77, 0.15),  # motorcycle with rider
    5: SizePrior(3.47, 0.45, 10.9, 2.0, 2.94, 0.20),  # bus
    7: SizePrior(2.85, 0.70, 6.9, 2.5, 2.5, 0.30),  # truck
}


class HorizonTracker:
    """Online estimate of the image row shift of the road horizon (camera pitch, road slope), pixels.

    Each call gives, for every object with a size prior, the row its ground contact would have if the
    height-cue depth were right (zero pitch, flat road); the residual ``v_bottom - v_expected`` carries
    that object's height-prior uncertainty. The shift is a scalar Kalman filter: a random walk of
    ``drift_px`` per call (pitch changes slowly), updated with the inverse-variance mean of the
    frame's residuals, each clipped to 3 sigma around the current estimate (one odd object cannot
    drag it). Explicit state of one camera's locator; ``reset()`` forgets it.
    """

    def __init__(self, prior_std_px: float = 15.0, drift_px: float = 0.5) -> None:
        self.prior_std_px = prior_std_px
        self.drift_px = drift_px
        self.reset()

    def reset(self) -> None:
        self.shift_px = 0.0
        self.var_px2 = self.prior_std_px**2

    def update(self, residual_px: F64, var_px2: F64) -> None:
        """Fold in (M,) residuals with (M,) variances (no-op when M = 0)."""
        self.var_px2 += self.drift_px**2
        if len(residual_px) == 0:
            return
        sd = np.sqrt(var_px2 + self.var_px2)
        r = np.clip(residual_px - self.shift_px, -3 * sd, 3 * sd)
        w = 1.0 / var_px2
        meas_var = 1.0 / float(w.sum())
        meas = self.shift_px + float((w * r).sum()) * meas_var
        gain = self.var_px2 / (self.var_px2 + meas_var)
        self.shift_px += gain * (meas - self.shift_px)
        self.var_px2 *= 1.0 - gain


@dataclass(frozen=True)
class _Cues:
    """Per box (N,): range of the nearest face along the ray from each cue, with variances."""

    r_foot: F64
    var_foot: F64
    r_height: F64
    var_height: F64
    use_height: BoolArray


@dataclass
class FusedGroundLocator:
    """Two range cues fused by inverse variance, then moved from the nearest face to the centre.

    Along the viewing ray through the box's bottom-centre, the range of the object's nearest face
    comes from
    - ground contact: the box bottom on the flat road, its row corrected by the online horizon shift
      (``HorizonTracker``, when ``track_horizon``); pixel std ``foot_noise_h`` box heights plus
      ``pitch_std_rad`` of unmodelled pitch per object and the horizon estimate's own uncertainty,
      and ``ground_height_std_m`` of the road under the object off the plane (kerbs, camber);
    - object height: ``fy x class height / box height`` (std from the class height spread and
      ``height_noise_h`` of the box height), only for classes with a size prior and boxes that do not
      touch the top or bottom image border (a cut box is not the object's height).
    With ``height_use="contact"`` (the default) the range is the ground contact's and the height cue
    only calibrates the horizon and stands in where the contact has no fix: the class height prior's
    error is one object's own, constant over its frames, so fused per frame it becomes a range error
    proportional to range, and on a moving vehicle a velocity error proportional to the closing speed
    (a parked car "moving" at ~10 % of the ego's speed; docs/world.md). ``"fuse"`` fuses both per
    object. Boxes cut by the left, right or bottom image border give no fix (their bottom-centre is not
    the object's). The range plus the class's expected nearest-face-to-centre offset along the ray gives the
    centre; the covariance is the fused variance (plus the offset's spread) along the ray and the
    pixel noise (plus the offset's spread) across it. Classes without a prior get ground contact only.
    ``locate`` updates the horizon estimate: use one locator per camera.
    """

    projector: GroundProjector
    foot_noise_h: float = 0.03
    height_noise_h: float = 0.05
    pitch_std_rad: float = 0.01
    ground_height_std_m: float = 0.1
    track_horizon: bool = True
    frame: str = "base_link"
    # "contact": ground contact gives each object's range, the height cue only calibrates the horizon
    # (averaged over objects) and stands in where the contact has no fix; "fuse": both cues per object.
    height_use: Literal["contact", "fuse"] = "contact"
    # A box this close to the left, right or bottom image border is cut by it: its bottom-centre is not
    # the object's, so it gives no fix (the track coasts on its ground filter). 0 px: keep them.
    border_px: float = 2.0
    # A box cut only by the bottom border stands nearer than where the road leaves the image along its
    # bearing: a near-field fix, uniform over that range (``near_field_fixes``). False: no fix.
    near_field: bool = True

    def __post_init__(self) -> None:
        self.horizon = HorizonTracker()

    @property
    def frame_id(self) -> str:
        return self.frame

    def _view_offset(self, boxes: F64, foot: F64, near: F64, class_ids: I64, prior: F64) -> tuple[F64, F64]:
        """(N,) mean and std of the nearest-face-to-centre offset along the ray, given the box width.

        A rigid footprint L x W seen at angle ``a`` between the ray and its length axis shows a width
        ``L |sin a| + W |cos a|`` across the ray and has its centre ``L/2 |cos a| + W/2 |sin a|`` behind
        its nearest point. With a uniform prior on ``a``, the box's angular width (times the range)
        weighs each ``a`` by how well it explains that width: an end-on car's centre is half its
        length behind the box foot, a side-on one's half its width. So the fix no longer slides as a
        parked car turns from end-on to side-on while the vehicle passes it. Non-rigid classes and
        classes without a prior keep the viewing-angle-free offset of ``SizePrior.centre_offset_m``.
        """
        mean, std = prior[2].copy(), prior[3].copy()
        rigid = np.array([getattr(SIZE_PRIORS.get(int(c)), "rigid", False) for c in class_ids], bool)
        rigid &= np.isfinite(near)
        if not rigid.any():
            return mean, std
        left = self.projector.rays(np.stack([boxes[:, 0], foot[:, 1]], axis=1))[:, :2]
        right = self.projector.rays(np.stack([boxes[:, 2], foot[:, 1]], axis=1))[:, :2]
        cos_w = np.einsum("ni,ni->n", left, right) / (
            np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
        )
        r_c = np.nan_to_num(near) + mean
        width_m = np.arccos(np.clip(cos_w, -1.0, 1.0)) * r_c  # (N,) visible width across the ray
        sig_px = np.maximum(self.foot_noise_h * (boxes[:, 3] - boxes[:, 1]), self.projector.pixel_sigma_px)
        a = np.linspace(0.0, np.pi / 2, 91)[None, :]  # (1, A)
        for i in np.flatnonzero(rigid):
            p = SIZE_PRIORS[int(class_ids[i])]
            shown = p.length_m * np.sin(a) + p.width_m * np.cos(a)  # (1, A)
            behind = p.length_m / 2 * np.cos(a) + p.width_m / 2 * np.sin(a)
            # Width noise: both box edges' pixel noise, and the class's size spread.
            var_w = 2 * (r_c[i] * sig_px[i] / self.projector.intrinsics.fx) ** 2
            var_w += (p.length_std_m * np.sin(a)) ** 2 + (p.width_std_m * np.cos(a)) ** 2
            like = np.exp(-0.5 * (shown - width_m[i]) ** 2 / var_w) / np.sqrt(var_w)
            w = like / like.sum()
            mean[i] = float((w * behind).sum())
            size_var = (p.length_std_m**2 + p.width_std_m**2) / 8
            std[i] = float(np.sqrt((w * (behind - mean[i]) ** 2).sum() + size_var))
        return mean, std

    def _cut(self, boxes: F64) -> tuple[BoolArray, BoolArray]:
        """(N,) boxes touching the left or right image border, and those touching only the bottom one
        (within ``border_px``)."""
        if self.border_px <= 0:
            return np.zeros(len(boxes), bool), np.zeros(len(boxes), bool)
        k, b = self.projector.intrinsics, self.border_px
        side: BoolArray = (boxes[:, 0] <= b) | (boxes[:, 2] >= k.width - b)
        bottom: BoolArray = (boxes[:, 3] >= k.height - b) & ~side
        return side, bottom

    def _near_field(self, boxes: F64) -> tuple[F64, F64]:
        """(N,) range mean and variance of objects whose boxes the bottom border cuts (NaN elsewhere).

        Their ground contact is below the image's bottom row, so they stand nearer than the road point
        that row shows at the box's centre column, ``r_edge`` (horizon shift applied); no cue says how
        much nearer (the visible height is cut too). The range is taken uniform over [0, r_edge]:
        mean r_edge / 2, variance r_edge^2 / 12. The object stays on the planner's list, close and
        uncertain, instead of losing its ground position (field use: a person in front of a stopped
        vehicle, feet below the image).
        """
        k, t = self.projector.intrinsics, self.projector.pose.translation()
        edge = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, np.full(len(boxes), k.height - 0.5)], axis=1)
        shift = self.horizon.shift_px if self.track_horizon else 0.0
        ground, _, ok = self.projector.to_ground(edge - np.array([0.0, shift]))
        r_edge = np.where(ok, np.linalg.norm(ground - t[None, :2], axis=1), np.nan)
        return r_edge / 2, r_edge**2 / 12

    def _cues(self, boxes: F64, foot: F64, prior: F64, has: BoolArray) -> _Cues:
        k, t = self.projector.intrinsics, self.projector.pose.translation()
        h_px = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        ray = self.projector.rays(foot)
        # Horizontal range per unit depth along the optical axis (both cues measure depth).
        scale = np.linalg.norm(ray[:, :2], axis=1) / (ray @ self.projector.pose.rotation()[:, 2])
        r_height = k.fy * prior[0] / h_px * scale
        var_height = r_height**2 * ((prior[1] / np.maximum(prior[0], 1e-9)) ** 2 + self.height_noise_h**2)
        use_height = has & (boxes[:, 1] > 1.0) & (boxes[:, 3] < k.height - 1.0)
        if self.track_horizon:
            # Expected contact row for the height-cue depth on a flat road, zero pitch.
            u = use_height
            depth = r_height[u] / scale[u]
            v_exp = k.cy + k.fy * t[2] / depth
            var_v = (k.fy * t[2] / depth**2) ** 2 * (var_height[u] / scale[u] ** 2)
            self.horizon.update(foot[u, 1] - v_exp, var_v + (self.foot_noise_h * h_px[u]) ** 2)
        shifted = foot - np.array([0.0, self.horizon.shift_px if self.track_horizon else 0.0])
        ground, _, ok = self.projector.to_ground(shifted)
        r_foot = np.where(ok, np.linalg.norm(ground - t[None, :2], axis=1), np.nan)
        sig_v2 = (
            np.maximum(self.foot_noise_h * h_px, self.projector.pixel_sigma_px) ** 2
            + (k.fy * self.pitch_std_rad) ** 2
            + (self.horizon.var_px2 if self.track_horizon else 0.0)
        )
        # d(range)/d(row) on a flat road, and the road under the object off the plane (kerbs, camber).
        var_foot = (r_foot**2 / (k.fy * t[2])) ** 2 * sig_v2 + (r_foot * self.ground_height_std_m / t[2]) ** 2
        return _Cues(r_foot, var_foot, r_height, var_height, use_height)

    def locate(self, boxes_xyxy: F64, class_ids: I64) -> GroundFix:
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return no_fix(0)
        k, t = self.projector.intrinsics, self.projector.pose.translation()
        prior, has = _priors(np.asarray(class_ids).reshape(-1))
        foot = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
        c = self._cues(boxes, foot, prior, has)
        w_f = np.where(np.isfinite(c.r_foot), 1.0 / np.maximum(c.var_foot, 1e-12), 0.0)
        use_height = c.use_height & ((w_f == 0) if self.height_use == "contact" else True)
        w_h = np.where(use_height, 1.0 / np.maximum(c.var_height, 1e-12), 0.0)
        wsum = w_f + w_h
        with np.errstate(invalid="ignore", divide="ignore"):
            near = (w_f * np.nan_to_num(c.r_foot) + w_h * np.nan_to_num(c.r_height)) / wsum
            offset, offset_std = self._view_offset(
                boxes, foot, near, np.asarray(class_ids).reshape(-1), prior
            )
            rng = near + offset
            var_r = 1.0 / wsum + offset_std**2
        side, bottom = self._cut(boxes)
        if self.near_field and bottom.any():
            r_near, var_near = self._near_field(boxes[bottom])
            rng[bottom], var_r[bottom] = r_near + offset[bottom], var_near + offset_std[bottom] ** 2
        elif bottom.any():
            rng[bottom] = np.nan
        valid = np.isfinite(rng) & (rng <= self.projector.max_range_m) & ~side
        ray = self.projector.rays(foot)[:, :2]
        bearing = ray / np.linalg.norm(ray, axis=1)[:, None]  # (N, 2) unit, horizontal
        normal = np.stack([-bearing[:, 1], bearing[:, 0]], axis=1)
        sig_px = np.maximum(self.foot_noise_h * (boxes[:, 3] - boxes[:, 1]), self.projector.pixel_sigma_px)
        var_lat = (rng * sig_px / k.fx) ** 2 + prior[3] ** 2
        xy = t[None, :2] + rng[:, None] * bearing
        cov = var_r[:, None, None] * np.einsum("ni,nj->nij", bearing, bearing)
        cov += var_lat[:, None, None] * np.einsum("ni,nj->nij", normal, normal)
        xy[~valid] = np.nan
        cov[~valid] = np.nan
        return GroundFix(xy, cov, valid, bottom & valid)


def _priors(class_ids: I64) -> tuple[F64, BoolArray]:
    """(4, N) height mean, height std, centre offset mean, offset std; (N,) has a prior."""
    out = np.zeros((4, len(class_ids)))
    has = np.zeros(len(class_ids), bool)
    for i, c in enumerate(class_ids):
        p = SIZE_PRIORS.get(int(c))
        if p is not None:
            out[:, i] = (p.height_m, p.height_std_m, *p.centre_offset_m())
            has[i] = True
    return out, has
