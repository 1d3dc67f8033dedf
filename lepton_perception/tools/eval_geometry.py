"""``lepton eval geometry``: ground-plane positions from 2D boxes vs KITTI 3D labels, by distance band."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from lepton_perception.core.camera import GroundProjector
from lepton_perception.core.evaluation.geometry import (
    KITTI_INTRINSICS,
    KITTI_POSE,
    evaluate_geometry,
    load_kitti_objects,
)
from lepton_perception.tools.common import print_json, shared_dir


def register(sub: Any) -> None:
    p = sub.add_parser("geometry", help="monocular ground-plane range/lateral error on KITTI 3D labels")
    p.add_argument("--kitti", type=Path, default=None, help="KITTI dir with label/ (default: shared)")
    p.add_argument("--pixel-sigma", type=float, default=2.0, help="foot-point std-dev, px")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kitti = args.kitti or shared_dir() / "data" / "tracking" / "kitti"
    projector = GroundProjector(KITTI_INTRINSICS, KITTI_POSE, pixel_sigma_px=args.pixel_sigma)
    result: dict[str, Any] = {}
    for name, classes in (("car", ("Car",)), ("pedestrian", ("Pedestrian",))):
        boxes, xy = load_kitti_objects(kitti / "label", classes)
        stats, invalid = evaluate_geometry(boxes, xy, projector)
        result[name] = {
            "objects": len(boxes),
            "invalid": invalid,
            "bands": [dataclasses.asdict(s) for s in stats],
        }
    if args.json:
        print_json(result)
        return 0
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
