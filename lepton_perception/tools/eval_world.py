"""``lepton eval world``: world-frame tracking, fusion and prediction on a driving scene (docs/world.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lepton_perception.core.prediction.base import Predictor
from lepton_perception.core.world.evaluate import WorldRun, simulate_detections
from lepton_perception.core.world.scene import load_scene
from lepton_perception.core.world.simulate import NoiseModel, camera_rig
from lepton_perception.tools.common import print_json, shared_dir


def register(sub: Any) -> None:
    p = sub.add_parser("world", help="ego-motion, cross-camera fusion and prediction on a driving scene")
    p.add_argument(
        "--scene", type=Path, default=None, help="scene dir with ego.csv, agents.csv (default: shared)"
    )
    p.add_argument(
        "--cameras", type=int, default=3, choices=[1, 3], help="1: front; 3: front, front-left/right"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="detection-noise seed (the run is deterministic per seed)"
    )
    p.add_argument("--max-frames", type=int, default=None, help="only the first frames (quick checks)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def project_predictor() -> Predictor:
    """The predictor the node runs (the category router), on CPU: deterministic."""
    from lepton_perception.core.prediction.config import PredictorConfig  # torch: imported on use
    from lepton_perception.core.prediction.predictor import RoutedPredictor

    return RoutedPredictor(PredictorConfig(device="cpu"))


def evaluate(scene_dir: Path, cameras: int, seed: int, max_frames: int | None = None) -> dict[str, Any]:
    """The issue's JSON object for one scene."""
    scene = load_scene(scene_dir)
    rig = camera_rig(cameras)
    noise = NoiseModel()
    run_ = WorldRun(scene, rig, simulate_detections(scene, rig, seed, noise, max_frames), noise=noise)
    predictor = project_predictor()
    ego, pred = run_.run(ego_motion=True, predictor=predictor)
    still, _ = run_.run(ego_motion=False)
    return {
        "scene": scene.name,
        "cameras": cameras,
        "ego_motion": ego.summary(),
        "no_ego_motion": still.summary(),
        "prediction": pred.summary(),
    }


def run(args: argparse.Namespace) -> int:
    scene_dir = args.scene or shared_dir() / "data" / "driving" / "lyft_scene"
    result = evaluate(scene_dir, args.cameras, args.seed, args.max_frames)
    if args.json:
        print_json(result)
        return 0
    print(f"scene {result['scene']}, {result['cameras']} camera(s), seed {args.seed}")
    for mode in ("ego_motion", "no_ego_motion"):
        r = result[mode]
        pk, mv = r["parked"], r["moving"]
        print(
            f"  {mode:14s} parked n={pk['count']} speed median {pk['speed_mps_median']} m/s, stationary "
            f"P/R {pk['stationary_precision']}/{pk['stationary_recall']}; moving n={mv['count']} speed err "
            f"{mv['speed_error_mps_median']} m/s, pos err {mv['position_error_m_median']} m, heading err "
            f"{mv['heading_error_deg_median']} deg; id switches {r['id_switches']}, duplicates "
            f"{r['duplicates_rate']}"
        )
    for cat, methods in result["prediction"].items():
        row = ", ".join(f"{m} {v['ADE']}/{v['FDE']}" for m, v in methods.items())
        print(f"  prediction {cat} ADE/FDE m: {row}")
    return 0
