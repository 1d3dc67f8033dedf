"""``lepton eval geometry``: ground-plane positions from 2D boxes vs KITTI 3D labels, by distance band.

Each sequence is evaluated with its own rectified camera-2 intrinsics (``calib/<seq>.txt``, P2), the
camera 1.65 m above a flat road with zero pitch. ``--locator`` picks the ``GroundLocator``:
``fused`` (ground contact and class height fused, moved to the object centre, with the online
horizon estimate; the default), ``fused_no_horizon`` (the same without the horizon estimate) or
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

CLASSES = {"car": ("Car", 2), "pedestrian": ("Pedestrian", 0)}  # name: (KITTI type, COCO class id)


def register(sub: Any) -> None:
    p = sub.add_parser("geometry", help="monocular ground-plane range/lateral error on KITTI 3D labels")
    p.add_argument("--kitti", type=Path, default=None, help="KITTI dir with label/, calib/ (default: shared)")
    p.add_argument(
        "--locator", choices=("fused", "fused_no_horizon", "box_foot"), default="fused", help="ground locator"
    )
    p.add_argument("--foot-noise-h", type=float, default=0.03, help="foot-point std-dev in box heights")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def make_locator(name: str, projector: GroundProjector, foot_noise_h: float) -> GroundLocator:
    if name == "box_foot":
        return BoxFootLocator(projector, foot_noise_h)
    return FusedGroundLocator(projector, foot_noise_h, track_horizon=name == "fused")


def locate_sequences(kitti: Path, locator_name: str, foot_noise_h: float) -> dict[str, tuple[Any, ...]]:
    """Per class: (N, 2) estimates, (N, 2, 2) covariances, (N,) valid, (N, 2) truth, (N,) bounded (the
    locator's near-field fixes, ``GroundFix.bounded``), over all sequences.

    One locator per sequence (camera), called frame by frame in order with every labelled car and
    pedestrian of the frame, as the tracker would call it.
    """
    kitti_types = tuple(t for t, _ in CLASSES.values())
    coco = {t: c for t, c in CLASSES.values()}
    parts: dict[str, list[tuple[Any, ...]]] = {name: [] for name in CLASSES}
    for seq in load_kitti_sequences(kitti, kitti_types):
        locator = make_locator(locator_name, GroundProjector(seq.intrinsics, KITTI_POSE), foot_noise_h)
        ids = np.array([coco[t] for t in seq.types], np.int64)
        for frame in np.unique(seq.frames):
            m = seq.frames == frame
            fix = locator.locate(seq.boxes[m], ids[m])
            bounded = np.zeros(len(fix.valid), bool) if fix.bounded is None else fix.bounded
            for name, (kitti_type, _) in CLASSES.items():
                c = seq.types[m] == kitti_type
                parts[name].append((fix.xy_m[c], fix.cov_m2[c], fix.valid[c], seq.xy[m][c], bounded[c]))
    return {name: tuple(np.concatenate(x) for x in zip(*p, strict=True)) for name, p in parts.items()}


def evaluate(kitti: Path, locator_name: str, foot_noise_h: float) -> dict[str, Any]:
    """Per class: the bands of the measured fixes, and apart from them the bounded ones (objects cut
    by the bottom image border, placed by a bound, not measured: ``FusedGroundLocator.near_field``)."""
    result: dict[str, Any] = {}
    origin = KITTI_POSE.translation()[:2]
    located = locate_sequences(kitti, locator_name, foot_noise_h)
    for name, (est, cov, valid, truth, bounded) in located.items():
        stats, _ = score_fixes(est, cov, valid & ~bounded, truth, origin)
        near, _ = score_fixes(est, cov, bounded, truth, origin, bands_m=(0.0, np.inf))
        result[name] = {
            "objects": len(truth),
            "invalid": int((~valid).sum()),
            "bands": [dataclasses.asdict(s) for s in stats],
            "near_field": dataclasses.asdict(near[0]),
        }
    return result


def run(args: argparse.Namespace) -> int:
    kitti = args.kitti or shared_dir() / "data" / "tracking" / "kitti"
    try:
        result = evaluate(kitti, args.locator, args.foot_noise_h)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    if args.json:
        print_json(result)
        return 0
    print(f"locator: {args.locator}, per-sequence camera-2 intrinsics")
    for name, r in result.items():
        nf = r["near_field"]
        print(
            f"{name}: {r['objects']} unoccluded, untruncated labels ({r['invalid']} not projectable;"
            f" {nf['count']} below the image placed by the near-field bound: range MAE"
            f" {nf['range_mae_m']:.2f} m, {100 * nf['within_2sigma']:.1f}% in 2-sigma)"
        )
        print("  band m     n   range bias  range MAE  range rel  lateral MAE  in 2-sigma")
        for b in r["bands"]:
            print(
                f"  {b['lo_m']:3.0f}-{b['hi_m']:<3.0f} {b['count']:5d}  {b['range_bias_m']:+9.2f}  "
                f"{b['range_mae_m']:9.2f}  {100 * b['range_rel_mae']:8.1f}%  {b['lateral_mae_m']:11.2f}"
                f"  {100 * b['within_2sigma']:9.1f}%"
            )
    return 0
