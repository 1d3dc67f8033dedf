"""Monocular camera geometry: intrinsics, the camera's pose on the vehicle, image <-> road plane.

Frames: the vehicle (target) frame follows REP 103 (x forward, y left, z up, road plane at z = 0);
the camera optical frame follows REP 103 too (z forward, x right, y down).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lepton_perception.core.schema import param

F64 = npt.NDArray[np.float64]

# Rotation taking optical-frame vectors to a camera *body* frame (x forward, y left, z up).
R_BODY_OPTICAL: F64 = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of the (rectified) image, as in ``sensor_msgs/CameraInfo.k``."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        vals = (self.fx, self.fy, self.cx, self.cy)
        if not all(np.isfinite(vals)) or self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"invalid camera intrinsics {self}")

    @staticmethod
    def from_k(k: npt.ArrayLike, width: int, height: int) -> CameraIntrinsics:
        """From a row-major 3x3 matrix (9 values), e.g. ``CameraInfo.k``."""
        m = np.asarray(k, dtype=np.float64).reshape(3, 3)
        return CameraIntrinsics(float(m[0, 0]), float(m[1, 1]), float(m[0, 2]), float(m[1, 2]), width, height)

    @staticmethod
    def from_fov(width: int, height: int, hfov_deg: float) -> CameraIntrinsics:
        """Square pixels, principal point at the centre: a fallback when no calibration exists."""
        f = (width / 2.0) / np.tan(np.radians(hfov_deg) / 2.0)
        return CameraIntrinsics(f, f, width / 2.0, height / 2.0, width, height)

    def scaled(self, width: int, height: int) -> CameraIntrinsics:
        """The same lens for an image resized to ``width`` x ``height``."""
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height)


@dataclass(frozen=True)
class CameraPose:
    """Camera body pose in the vehicle frame: translation in metres, roll/pitch/yaw in radians.

    Pitch is positive when the camera looks down (a right-handed rotation about y in REP 103).
    """

    x_m: float = param(0.0, "forward position", unit="m", lo=-100.0, hi=100.0)
    y_m: float = param(0.0, "left position", unit="m", lo=-100.0, hi=100.0)
    z_m: float = param(1.65, "height above the road", unit="m", lo=-10.0, hi=100.0)
    roll_rad: float = param(0.0, "roll", unit="rad", lo=-3.1416, hi=3.1416)
    pitch_rad: float = param(0.0, "pitch, positive looking down", unit="rad", lo=-3.1416, hi=3.1416)
    yaw_rad: float = param(0.0, "yaw, positive to the left", unit="rad", lo=-3.1416, hi=3.1416)

    @functools.cached_property
    def _rotation(self) -> F64:
        return self._compute_rotation()

    def rotation(self) -> F64:
        """(3, 3) rotation taking optical-frame vectors into the vehicle frame (computed once)."""
        return self._rotation

    def _compute_rotation(self) -> F64:
        cr, sr = np.cos(self.roll_rad), np.sin(self.roll_rad)
        cp, sp = np.cos(self.pitch_rad), np.sin(self.pitch_rad)
        cy, sy = np.cos(self.yaw_rad), np.sin(self.yaw_rad)
        rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
        ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
        rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
        result: F64 = rz @ ry @ rx @ R_BODY_OPTICAL
        return result

    def translation(self) -> F64:
        return np.array([self.x_m, self.y_m, self.z_m])


@dataclass(frozen=True)
class GroundProjector:
    """Projects image points onto the road plane z = 0 of the vehicle frame."""

    intrinsics: CameraIntrinsics
    pose: CameraPose
    pixel_sigma_px: float = 2.0  # std-dev of the box's bottom-centre point, pixels
    max_range_m: float = 80.0  # farther points (near the horizon) are too uncertain to report

    def rays(self, uv: F64) -> F64:
        """(N, 2) pixels -> (N, 3) unnormalised ray directions in the vehicle frame."""
        k = self.intrinsics
        d = np.stack([(uv[:, 0] - k.cx) / k.fx, (uv[:, 1] - k.cy) / k.fy, np.ones(len(uv))], axis=1)
        result: F64 = d @ self.pose.rotation().T
        return result

    def to_ground(
        self, uv: npt.ArrayLike, sigma_px: npt.ArrayLike | None = None
    ) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
        """Intersect pixel rays with the road.

        Returns ``(xy (N, 2) m, cov (N, 2, 2) m^2, valid (N,))``. A point is invalid when its ray does
        not hit the road in front of the camera or hits it beyond ``max_range_m``; its row is NaN.
        The covariance propagates ``pixel_sigma_px`` through the projection's Jacobian, so it grows
        roughly with the square of the range. ``sigma_px`` (scalar or (N,)) overrides the pixel std,
        e.g. to scale it with the box size.
        """
        uv = np.atleast_2d(np.asarray(uv, dtype=np.float64))
        k, rot, t = self.intrinsics, self.pose.rotation(), self.pose.translation()
        d = self.rays(uv)  # (N, 3); the ray hits the road at p = t + s d, s = -t_z / d_z
        with np.errstate(divide="ignore", invalid="ignore"):
            s = -t[2] / d[:, 2]
        xy = t[None, :2] + s[:, None] * d[:, :2]
        rng = np.hypot(xy[:, 0] - t[0], xy[:, 1] - t[1])
        valid = np.isfinite(s) & (s > 0) & (rng <= self.max_range_m)
        # Analytic Jacobian d(xy)/d(uv): dd/du = R[:, 0] / fx, dd/dv = R[:, 1] / fy, and
        # dp/du = s (dd/du - d (dd_z/du) / d_z) (from ds/du = -s dd_z/du / d_z).
        jac = np.empty((len(uv), 2, 2))
        for col, dd in ((0, rot[:, 0] / k.fx), (1, rot[:, 1] / k.fy)):
            with np.errstate(divide="ignore", invalid="ignore"):
                jac[:, :, col] = s[:, None] * (dd[None, :2] - d[:, :2] * (dd[2] / d[:, 2])[:, None])
        sigma = self.pixel_sigma_px if sigma_px is None else sigma_px
        var = np.broadcast_to(np.asarray(sigma, dtype=np.float64) ** 2, (len(uv),))
        cov = var[:, None, None] * (jac @ jac.transpose(0, 2, 1))
        xy[~valid] = np.nan
        cov[~valid] = np.nan
        return xy, cov, valid

    def to_image(self, xyz: npt.ArrayLike) -> F64:
        """(N, 3) vehicle-frame points -> (N, 2) pixels (NaN behind the camera)."""
        p = np.atleast_2d(np.asarray(xyz, dtype=np.float64)) - self.pose.translation()
        cam = p @ self.pose.rotation()  # rows: optical-frame coordinates
        k = self.intrinsics
        with np.errstate(divide="ignore", invalid="ignore"):
            u = k.fx * cam[:, 0] / cam[:, 2] + k.cx
            v = k.fy * cam[:, 1] / cam[:, 2] + k.cy
        out = np.stack([u, v], axis=1)
        out[cam[:, 2] <= 0] = np.nan
        return out
