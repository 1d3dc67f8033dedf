"""Simulated cameras on the ego vehicle and their noisy 2D detections of a scene's 3D agent boxes.

Fixed, documented noise model (docs/world.md): each box edge moves by N(0, (0.05 x box height)^2) px,
10 % of boxes are missed, boxes more than half hidden by nearer ones are missed, 2 false positives per
frame and camera, every score U(0.5, 1). Boxes are clipped to the image; one with less than a third of
its projected area inside the image, or under ``min_height_px`` tall, is not detected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.core.types import Detections
from lepton_perception.core.world.scene import Scene

F64 = npt.NDArray[np.float64]

_NEAR_M = 0.2  # near clipping plane in front of the camera, metres
_MASK_SCALE = 4  # occlusion raster: one cell per 4 x 4 pixels


@dataclass(frozen=True)
class SimCamera:
    name: str
    projector: GroundProjector  # intrinsics + CameraPose (camera body in base_link)


def camera_rig(n: int, width: int = 1280, height: int = 720, hfov_deg: float = 90.0) -> list[SimCamera]:
    """N = 1: front; N = 3: front, front-left, front-right, yawed +-60 deg (30 deg overlap each side)."""
    k = CameraIntrinsics.from_fov(width, height, hfov_deg)
    mounts = {
        "front": CameraPose(1.5, 0.0, 1.6, 0.0, 0.0, 0.0),
        "front_left": CameraPose(1.3, 0.5, 1.6, 0.0, 0.0, math.radians(60.0)),
        "front_right": CameraPose(1.3, -0.5, 1.6, 0.0, 0.0, math.radians(-60.0)),
    }
    if n not in (1, 3):
        raise ValueError(f"--cameras must be 1 or 3, got {n}")
    names = ["front"] if n == 1 else ["front", "front_left", "front_right"]
    return [SimCamera(name, GroundProjector(k, mounts[name])) for name in names]


@dataclass(frozen=True)
class NoiseModel:
    edge_noise_h: float = 0.05  # std of each box edge, box heights
    miss_rate: float = 0.10
    max_hidden: float = 0.5  # a box hidden by nearer boxes more than this share is missed
    false_positives: int = 2  # per frame and camera
    score_range: tuple[float, float] = (0.5, 1.0)
    min_visible: float = 1.0 / 3.0  # share of the projected box inside the image to be detectable
    min_height_px: float = 8.0


def box_corners(boxes: F64) -> F64:
    """(M, 6) [x, y, yaw, length, width, height] -> (M, 8, 3) corners, z from 0 to height."""
    sx = np.array([1, 1, -1, -1, 1, 1, -1, -1]) * 0.5
    sy = np.array([1, -1, -1, 1, 1, -1, -1, 1]) * 0.5
    sz = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    lx, ly = boxes[:, 3:4] * sx, boxes[:, 4:5] * sy  # (M, 8) in the box frame
    c, s = np.cos(boxes[:, 2:3]), np.sin(boxes[:, 2:3])
    x = boxes[:, 0:1] + c * lx - s * ly
    y = boxes[:, 1:2] + s * lx + c * ly
    return np.stack([x, y, boxes[:, 5:6] * sz], axis=2)


_EDGES = np.array(
    [[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]]
)


def project_boxes(corners_base: F64, camera: SimCamera) -> F64:
    """(M, 8, 3) base_link corners -> (M, 4) unclipped xyxy image boxes (NaN: wholly behind the camera).

    Edges crossing the near plane are cut there, so objects beside the camera get their true extent.
    """
    pose, k = camera.projector.pose, camera.projector.intrinsics
    cam = (corners_base - pose.translation()) @ pose.rotation()  # (M, 8, 3) optical frame
    a, b = cam[:, _EDGES[:, 0]], cam[:, _EDGES[:, 1]]  # (M, 12, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.clip((_NEAR_M - a[..., 2]) / (b[..., 2] - a[..., 2]), 0.0, 1.0)
    cut = a + f[..., None] * (b - a)  # where the edge meets the near plane (or an endpoint)
    pts = np.concatenate([cam, cut], axis=1)  # (M, 20, 3)
    front = pts[..., 2] >= _NEAR_M - 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(front, k.fx * pts[..., 0] / pts[..., 2] + k.cx, np.nan)
        v = np.where(front, k.fy * pts[..., 1] / pts[..., 2] + k.cy, np.nan)
    out = np.full((len(pts), 4), np.nan)
    ok = front.any(axis=1)
    out[ok] = np.stack(
        [np.nanmin(u[ok], 1), np.nanmin(v[ok], 1), np.nanmax(u[ok], 1), np.nanmax(v[ok], 1)], axis=1
    )
    return out


def visible_fraction(boxes: F64, depth_m: F64, width: int, height: int) -> F64:
    """(M,) share of each (clipped) box not covered by nearer boxes, on a coarse raster."""
    mask = np.zeros((height // _MASK_SCALE + 1, width // _MASK_SCALE + 1), bool)
    cells = np.round(boxes / _MASK_SCALE).astype(np.int64)
    out = np.ones(len(boxes))
    for i in np.argsort(depth_m, kind="stable"):
        x1, y1, x2, y2 = cells[i]
        region = mask[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)]
        out[i] = 1.0 - float(region.mean()) if region.size else 0.0
        region[...] = True
    return out


class DetectionSimulator:
    """Noisy detections of the scene's agents for each camera and frame (deterministic per seed)."""

    def __init__(self, scene: Scene, cameras: list[SimCamera], seed: int, noise: NoiseModel | None = None):
        self.scene, self.cameras, self.noise = scene, cameras, noise or NoiseModel()
        self.rng = np.random.default_rng(seed)

    def frame(self, index: int) -> dict[str, Detections]:
        """Detections of every camera at frame ``index`` (call frames in order for reproducibility)."""
        sel = self.scene.agents.at(index)
        boxes = self.scene.agents.box[sel].copy()
        pose = self.scene.pose(index)
        boxes[:, :2] = pose.to_base(boxes[:, :2])
        boxes[:, 2] -= pose.yaw_rad
        corners = box_corners(boxes)
        classes = self.scene.agents.class_id[sel]
        return {cam.name: self._camera(cam, corners, boxes[:, :2], classes) for cam in self.cameras}

    def _camera(
        self, cam: SimCamera, corners: F64, centres: F64, classes: npt.NDArray[np.int64]
    ) -> Detections:
        k, nm = cam.projector.intrinsics, self.noise
        raw = project_boxes(corners, cam)
        clipped = np.stack(
            [np.clip(raw[:, 0], 0, k.width), np.clip(raw[:, 1], 0, k.height),
             np.clip(raw[:, 2], 0, k.width), np.clip(raw[:, 3], 0, k.height)], axis=1,
        )  # fmt: skip
        with np.errstate(invalid="ignore", divide="ignore"):
            area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
            inside = area / ((raw[:, 2] - raw[:, 0]) * (raw[:, 3] - raw[:, 1]))
        ok = (
            np.isfinite(inside)
            & (inside >= nm.min_visible)
            & (clipped[:, 3] - clipped[:, 1] >= nm.min_height_px)
        )
        idx = np.flatnonzero(ok)
        depth = np.hypot(*(centres[idx] - cam.projector.pose.translation()[:2]).T)
        seen = visible_fraction(clipped[idx], depth, k.width, k.height) >= 1.0 - nm.max_hidden
        idx = idx[seen]
        keep = self.rng.random(len(idx)) >= nm.miss_rate
        idx = idx[keep]
        h = (clipped[idx, 3] - clipped[idx, 1])[:, None]
        true_boxes = clipped[idx] + self.rng.normal(size=(len(idx), 4)) * nm.edge_noise_h * h
        fp_boxes, fp_classes = self._false_positives(k)
        out_boxes = np.concatenate([true_boxes, fp_boxes])
        out_boxes[:, [0, 2]] = np.sort(out_boxes[:, [0, 2]], axis=1)  # noise may swap edges of tiny boxes
        out_boxes[:, [1, 3]] = np.sort(out_boxes[:, [1, 3]], axis=1)
        scores = self.rng.uniform(*nm.score_range, size=len(out_boxes))
        return Detections(
            out_boxes.astype(np.float32), scores.astype(np.float32),
            np.concatenate([classes[idx], fp_classes]).astype(np.int64),
        )  # fmt: skip

    def _false_positives(self, k: CameraIntrinsics) -> tuple[F64, npt.NDArray[np.int64]]:
        """Boxes anywhere in the image: car-shaped or person-shaped, 20-200 px tall."""
        n = self.noise.false_positives
        person = self.rng.random(n) < 0.5
        h = self.rng.uniform(20.0, 200.0, n)
        w = h * np.where(person, self.rng.uniform(0.3, 0.5, n), self.rng.uniform(1.0, 2.5, n))
        w = np.minimum(w, k.width - 1.0)
        x1 = self.rng.uniform(0.0, k.width - w)
        y1 = self.rng.uniform(0.0, k.height - h)
        return np.stack([x1, y1, x1 + w, y1 + h], axis=1), np.where(person, 0, 2).astype(np.int64)
