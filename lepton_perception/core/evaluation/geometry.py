"""Monocular ground-plane geometry against KITTI 3D labels.

Each labelled object's 2D box bottom centre is projected onto the road plane and compared with the
label's 3D location (bottom centre of the 3D box, camera coordinates X right, Y down, Z forward ->
vehicle x = Z, y = -X with the vehicle origin on the road under the camera). The 2D box bottom is the
object's nearest visible ground contact, not its centre, so a range bias of up to half the object's
depth is expected and is reported, not corrected.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector

F64 = npt.NDArray[np.float64]

# KITTI tracking training sequences: rectified camera 2 intrinsics, camera 1.65 m above the road.
KITTI_INTRINSICS = CameraIntrinsics(721.5377, 721.5377, 609.5593, 172.854, 1242, 375)
KITTI_POSE = CameraPose(z_m=1.65)
DEFAULT_BANDS_M = (0.0, 10.0, 20.0, 30.0, 50.0, 80.0)


@dataclass(frozen=True)
class BandStats:
    lo_m: float
    hi_m: float
    count: int
    range_bias_m: float  # mean signed range error (estimate - truth)
    range_mae_m: float
    range_rel_mae: float  # mean |range error| / true range
    lateral_mae_m: float  # error perpendicular to the line of sight
    within_2sigma: float  # fraction whose error lies inside the 2-sigma ellipse of the covariance


def load_kitti_objects(label_dir: Path, classes: tuple[str, ...]) -> tuple[F64, F64]:
    """Unoccluded, untruncated labelled objects: ((N, 4) 2D boxes, (N, 2) vehicle-frame x, y)."""
    boxes, xy = [], []
    for f in sorted(label_dir.glob("*.txt")):
        for line in f.read_text().splitlines():
            p = line.split()
            if len(p) < 17 or p[2] not in classes or int(float(p[3])) != 0 or int(float(p[4])) != 0:
                continue
            boxes.append([float(v) for v in p[6:10]])
            xy.append([float(p[15]), -float(p[13])])
    return np.array(boxes).reshape(-1, 4), np.array(xy).reshape(-1, 2)


def evaluate_geometry(
    boxes: F64, truth_xy: F64, projector: GroundProjector, bands_m: tuple[float, ...] = DEFAULT_BANDS_M
) -> tuple[list[BandStats], int]:
    """Per distance band of the true range; returns (stats, number of boxes with no valid projection)."""
    foot = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
    est, cov, valid = projector.to_ground(foot)
    origin = projector.pose.translation()[:2]
    t_rel, e_rel = truth_xy - origin, est - origin
    true_rng = np.linalg.norm(t_rel, axis=1)
    err = e_rel - t_rel
    bearing = t_rel / np.maximum(true_rng, 1e-9)[:, None]
    rng_err = np.linalg.norm(e_rel, axis=1) - true_rng
    lat_err = err[:, 0] * -bearing[:, 1] + err[:, 1] * bearing[:, 0]
    inside = np.zeros(len(boxes), bool)
    if valid.any():
        d2 = np.einsum("ni,nij,nj->n", err[valid], np.linalg.inv(cov[valid]), err[valid])
        inside[valid] = d2 <= 4.0
    stats = []
    for lo, hi in itertools.pairwise(bands_m):
        m = valid & (true_rng >= lo) & (true_rng < hi)
        n = int(m.sum())
        if n == 0:
            stats.append(BandStats(lo, hi, 0, *([float("nan")] * 5)))
            continue
        stats.append(
            BandStats(
                lo,
                hi,
                n,
                float(rng_err[m].mean()),
                float(np.abs(rng_err[m]).mean()),
                float((np.abs(rng_err[m]) / true_rng[m]).mean()),
                float(np.abs(lat_err[m]).mean()),
                float(inside[m].mean()),
            )
        )
    return stats, int((~valid).sum())
