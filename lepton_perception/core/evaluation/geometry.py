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


KITTI_SIZE = (1242, 375)  # px, most tracking sequences


def load_kitti_calib(path: Path, width: int = KITTI_SIZE[0], height: int = KITTI_SIZE[1]) -> CameraIntrinsics:
    """Intrinsics of the rectified camera 2 (``P2:`` row of a KITTI tracking calib file)."""
    for line in path.read_text().splitlines():
        if line.startswith("P2:"):
            p2 = np.array([float(v) for v in line.split()[1:13]]).reshape(3, 4)
            return CameraIntrinsics(p2[0, 0], p2[1, 1], p2[0, 2], p2[1, 2], width, height)
    raise ValueError(f"{path} has no P2 row")


@dataclass(frozen=True)
class KittiSequence:
    """The unoccluded, untruncated labelled objects of one sequence, frame by frame."""

    name: str
    intrinsics: CameraIntrinsics  # rectified camera 2 (P2), the labels' frame
    frames: npt.NDArray[np.int64]  # (N,) frame index, ascending
    types: npt.NDArray[np.str_]  # (N,) KITTI type ("Car", "Pedestrian", ...)
    boxes: F64  # (N, 4) xyxy px
    xy: F64  # (N, 2) vehicle-frame x forward, y left of the label's bottom centre, metres


def load_kitti_sequences(kitti: Path, classes: tuple[str, ...]) -> list[KittiSequence]:
    """Every labelled sequence of ``kitti/label`` with its own ``kitti/calib`` intrinsics."""
    out = []
    for f in sorted((kitti / "label").glob("*.txt")):
        calib = kitti / "calib" / f.name
        if not calib.is_file():
            raise FileNotFoundError(f"{calib} missing: each sequence is evaluated with its own intrinsics")
        every = [r for r in (line.split() for line in f.read_text().splitlines()) if len(r) >= 10]
        rows = [r for r in every if _usable(r, classes)]
        rows.sort(key=lambda r: int(r[0]))
        out.append(
            KittiSequence(
                f.stem,
                load_kitti_calib(calib, *image_size(every)),
                np.array([int(r[0]) for r in rows], np.int64),
                np.array([r[2] for r in rows], dtype=np.str_),
                np.array([[float(v) for v in r[6:10]] for r in rows]).reshape(-1, 4),
                np.array([[float(r[15]), -float(r[13])] for r in rows]).reshape(-1, 2),
            )
        )
    return out


def image_size(rows: list[list[str]]) -> tuple[int, int]:
    """(width, height) px of a KITTI sequence's images, from its label rows (any type).

    The data has no images, and the sequences differ (1242 x 375 for most, 1224 x 370 for 0014-0017,
    1241 x 376 for 0018-0020): KITTI clips every 2D box to the image, so the right- and bottom-most box
    edges of a sequence are its image borders (at W or W - 1, H or H - 1; one pixel more is within the
    locator's 2 px border tolerance). Assuming 1242 x 375 for a 370 px tall sequence hid the bottom
    border from the locator: people cut by it got a ground fix from the cut box bottom, metres off.
    Without a box at a border the size is under-estimated, so boxes near it read as cut (no fix) rather
    than wrong. A sequence without labels has nothing to locate: KITTI's usual 1242 x 375.
    """
    if not rows:
        return KITTI_SIZE
    boxes = np.array([[float(v) for v in r[6:10]] for r in rows])
    return int(np.round(boxes[:, 2].max())) + 1, int(np.round(boxes[:, 3].max())) + 1


def _usable(p: list[str], classes: tuple[str, ...]) -> bool:
    return len(p) >= 17 and p[2] in classes and int(float(p[3])) == 0 and int(float(p[4])) == 0


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
    """Box bottom-centres on the flat road (no locator) per distance band; see ``score_fixes``."""
    foot = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
    est, cov, valid = projector.to_ground(foot)
    return score_fixes(est, cov, valid, truth_xy, projector.pose.translation()[:2], bands_m)


def score_fixes(
    est: F64,
    cov: F64,
    valid: npt.NDArray[np.bool_],
    truth_xy: F64,
    origin: F64,
    bands_m: tuple[float, ...] = DEFAULT_BANDS_M,
) -> tuple[list[BandStats], int]:
    """Per distance band of the true range; returns (stats, number of boxes with no valid position)."""
    t_rel, e_rel = truth_xy - origin, est - origin
    true_rng = np.linalg.norm(t_rel, axis=1)
    err = e_rel - t_rel
    bearing = t_rel / np.maximum(true_rng, 1e-9)[:, None]
    rng_err = np.linalg.norm(e_rel, axis=1) - true_rng
    lat_err = err[:, 0] * -bearing[:, 1] + err[:, 1] * bearing[:, 0]
    inside = np.zeros(len(est), bool)
    if valid.any():
        d2 = np.einsum("ni,nij,nj->n", err[valid], np.linalg.inv(cov[valid]), err[valid])
        inside[valid] = d2 <= 4.0
    return _bands(valid, true_rng, rng_err, lat_err, inside, bands_m), int((~valid).sum())


def _bands(
    valid: npt.NDArray[np.bool_],
    true_rng: F64,
    rng_err: F64,
    lat_err: F64,
    inside: F64,
    bands_m: tuple[float, ...],
) -> list[BandStats]:
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
    return stats
