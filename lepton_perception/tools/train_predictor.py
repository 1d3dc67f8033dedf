"""``lepton train predictor``: train the GRU trajectory models on ETH/UCY and write shipped weights.

``--scene S`` trains the leave-one-scene-out model for S (train/val of the other four scenes, from
``DIR/S/{train,val}``); ``--scene all`` trains the runtime model on every scene's train split (each
file once) with early stopping on every scene's val split. Several ``--scene`` values run in turn.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lepton_perception.core.prediction import data as td
from lepton_perception.core.prediction.model import TrajectoryModelConfig
from lepton_perception.core.prediction.training import TrainConfig, evaluate, train
from lepton_perception.core.prediction.weights import MODELS_DIR, RUNTIME_MODEL, eval_model_name, save_model
from lepton_perception.tools.common import print_json, shared_dir

log = logging.getLogger(__name__)

# The recipe the shipped weights were trained with (see docs/prediction.md).
SHIPPED_TRAIN = TrainConfig()
SHIPPED_MODEL = TrajectoryModelConfig(max_neighbours=8, neighbour_radius_m=6.0)
# Training windows keep windows with a single pedestrian too (more data); the evaluation uses the
# Social-GAN rule (more than one) for comparability with published numbers.
TRAIN_WINDOWS = td.WindowConfig(
    min_peds=0,
    max_neighbours=SHIPPED_MODEL.max_neighbours,
    neighbour_radius_m=SHIPPED_MODEL.neighbour_radius_m,
)


def eval_windows(model: TrajectoryModelConfig) -> td.WindowConfig:
    """The benchmark windowing, with the neighbour settings the model was trained with."""
    return td.WindowConfig(max_neighbours=model.max_neighbours, neighbour_radius_m=model.neighbour_radius_m)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predictor", help="train the GRU trajectory predictor on ETH/UCY")
    p.add_argument(
        "--ethucy", type=Path, default=None, help="ETH/UCY folder (default: shared data/trajectories)"
    )
    p.add_argument(
        "--scene",
        action="append",
        choices=[*td.SCENES, "all"],
        help="leave-one-out test scene, or 'all' for the runtime model; repeatable (default: all six)",
    )
    p.add_argument("--out", type=Path, default=MODELS_DIR, help="output folder (default: package models/)")
    p.add_argument("--seed", type=int, default=SHIPPED_TRAIN.seed)
    p.add_argument("--epochs", type=int, default=SHIPPED_TRAIN.epochs)
    p.add_argument("--threads", type=int, default=SHIPPED_TRAIN.num_threads)
    p.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=Path("out/checkpoints/predictor"),
        help="per-epoch resumable checkpoints NAME.pt; an interrupted run resumes from them",
    )
    p.add_argument("--fresh", action="store_true", help="ignore (delete) existing checkpoints first")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(func=run)


def _data(root: Path, scene: str) -> tuple[Any, Any, str]:
    """((train windows, neighbours), (val windows, neighbours), model name) for ``scene``."""
    if scene == "all":
        tr = td.load_windows_and_neighbours(td.all_scenes_files(root, "train"), TRAIN_WINDOWS)
        va = td.load_windows_and_neighbours(td.all_scenes_files(root, "val"), TRAIN_WINDOWS)
        return tr, va, RUNTIME_MODEL
    tr = td.load_windows_and_neighbours(td.scene_files(root, scene, "train"), TRAIN_WINDOWS)
    va = td.load_windows_and_neighbours(td.scene_files(root, scene, "val"), TRAIN_WINDOWS)
    return tr, va, eval_model_name(scene)


def run(args: argparse.Namespace) -> int:
    root = args.ethucy or shared_dir() / "data" / "trajectories"
    scenes = args.scene or [*td.SCENES, "all"]
    cfg = TrainConfig(
        **{**SHIPPED_TRAIN.to_dict(), "seed": args.seed, "epochs": args.epochs, "num_threads": args.threads}
    )
    summary: dict[str, dict[str, Any]] = {}
    for scene in scenes:
        try:
            tr, va, name = _data(root, scene)
        except (FileNotFoundError, ValueError) as exc:
            log.error("%s", exc)
            return 2
        batches = (len(tr[0]) + cfg.batch_size - 1) // cfg.batch_size
        ckpt = args.checkpoint_dir / f"{name}.pt"
        if args.fresh:
            ckpt.unlink(missing_ok=True)
        bar = tqdm(total=cfg.epochs * batches, desc=f"train {name}", unit="batch", leave=False)

        def on_epoch(epoch: int, row: dict[str, float], bar: tqdm = bar) -> None:
            bar.set_postfix(epoch=epoch, val_ade=f"{row['val_ade']:.3f}", val_fde=f"{row['val_fde']:.3f}")

        def on_batch(bar: tqdm = bar) -> None:
            bar.update(1)

        result = train(
            tr[0],
            va[0],
            train_neighbours=tr[1],
            val_neighbours=va[1],
            model_config=SHIPPED_MODEL,
            config=cfg,
            on_epoch=on_epoch,
            on_batch=on_batch,
            checkpoint=ckpt,
        )
        bar.close()
        meta: dict[str, Any] = {
            "name": name,
            "trained_on": "all scenes' train splits"
            if scene == "all"
            else f"leave-one-out, test scene {scene}",
            "train": cfg.to_dict(),
            "train_windows": len(tr[0]),
            "val_windows": len(va[0]),
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "val_ade_m": round(result.best_val_ade_m, 5),
            "val_fde_m": round(result.best_val_fde_m, 5),
            "train_seconds": round(result.seconds, 1),
            "stopped_by_time": result.stopped_by_time,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if scene != "all":
            te, te_nb = td.load_windows_and_neighbours(
                td.scene_files(root, scene, "test"), eval_windows(SHIPPED_MODEL)
            )
            ade, fde = evaluate(result.model, te, te_nb)
            meta["test_ade_m"], meta["test_fde_m"] = round(ade, 5), round(fde, 5)
        path = save_model(result.model, name, args.out, meta)
        summary[name] = {k: v for k, v in meta.items() if k != "train"}
        if not args.json:
            extra = (
                f", test ADE/FDE {meta['test_ade_m']:.3f}/{meta['test_fde_m']:.3f}" if scene != "all" else ""
            )
            print(
                f"{name}: best epoch {result.best_epoch}/{result.epochs_run}, val ADE/FDE "
                f"{result.best_val_ade_m:.3f}/{result.best_val_fde_m:.3f}{extra}, "
                f"{result.seconds:.0f} s -> {path}"
            )
    if args.json:
        print_json(summary)
    return 0
