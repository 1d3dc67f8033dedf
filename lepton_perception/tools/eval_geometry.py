"""``lepton eval geometry``: ground-plane positions from 2D boxes vs KITTI 3D labels, by distance band.

Each sequence is evaluated with its own rectified camera-2 intrinsics (``calib/<seq>.txt``, P2), the
camera 1.65 m above a flat road with zero pitch. ``--locator`` picks the ``GroundLocator``:
``fused`` (ground contact and class height fused, moved to the object centre; the default) or
``box_foot`` (box bottom-centre on the road, what the runner used before).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from lepton_perception.core.camera import GroundProjector
from lepton_perception.core.evaluation.geometry import KITTI_POSE, load_kitti_sequences, score_fixes
from lepton_perception.core.ground import BoxFootLocator, FusedGroundLocator, GroundLocator
from lepton_perception.tools.common import print_json, shared_dir

CLASSES = (("car", ("Car",), 2), ("pedestrian", ("Pedestrian",), 0))  # name, KITTI types, COCO id


def register(sub: Any) -> None:
    p = sub.add_parser("geometry", help="monocular ground-plane range/lateral error on KITTI 3D labels")
    p.add_argument("--kitti", type=Path, default=None, help="KITTI dir with label/, calib/ (default: shared)")
    p.add_argument("--locator", choices=("fused", "box_foot"), default="fused", help="ground locator")
    p.add_argument("--foot-noise-h", type=float, default=0.03, help="foot-point std-dev in box heights")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def make_locator(name: str, projector: GroundProjector, foot_noise_h: float) -> GroundLocator:
    if name == "box_foot":
        return BoxFootLocator(projector, foot_noise_h)
    return FusedGroundLocator(projector, foot_noise_h)


def evaluate_class(
    kitti: Path, types: tuple[str, ...], coco_id: int, args: argparse.Namespace
) -> dict[str, Any]:
    parts: list[tuple[np.ndarray, ...]] = []
    for _, intrinsics, boxes, xy in load_kitti_sequences(kitti, types):
        if len(boxes) == 0:
            continue
        locator = make_locator(args.locator, GroundProjector(intrinsics, KITTI_POSE), args.foot_noise_h)
        fix = locator.locate(boxes, np.full(len(boxes), coco_id, np.int64))
        parts.append((fix.xy_m, fix.cov_m2, fix.valid, xy))
    est, cov, valid, truth = (np.concatenate(c) for c in zip(*parts, strict=True))
    stats, invalid = score_fixes(est, cov, valid, truth, KITTI_POSE.translation()[:2])
    return {"objects": len(truth), "invalid": invalid, "bands": [dataclasses.asdict(s) for s in stats]}


def run(args: argparse.Namespace) -> int:
    kitti = args.kitti or shared_dir() / "data" / "tracking" / "kitti"
    try:
        result = {name: evaluate_class(kitti, types, cid, args) for name, types, cid in CLASSES}
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    if args.json:
        print_json(result)
        return 0
    print(f"locator: {args.locator}, per-sequence camera-2 intrinsics")
    for name, r in result.items():
        print(f"{name}: {r['objects']} unoccluded, untruncated labels ({r['invalid']} not projectable)")
        print("  band m     n   range bias  range MAE  range rel  lateral MAE  in 2-sigma")
        for b in r["bands"]:
            print(
                f"  {b['lo_m']:3.0f}-{b['hi_m']:<3.0f} {b['count']:5d}  {b['range_bias_m']:+9.2f}  "
                f"{b['range_mae_m']:9.2f}  {100 * b['range_rel_mae']:8.1f}%  {b['lateral_mae_m']:11.2f}"
                f"  {100 * b['within_2sigma']:9.1f}%"
            )
    return 0
