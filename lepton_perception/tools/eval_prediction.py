"""``lepton eval prediction``: ADE/FDE of the shipped leave-one-out models on ETH/UCY.

Protocol (Social-GAN): observe 8 samples (3.2 s), predict 12 (4.8 s), 20-frame windows with stride
1, pedestrians present in all 20 frames, windows with more than one such pedestrian. Each scene is
predicted by the model that never saw it (``predictor_loo_<scene>``). The constant-velocity
baseline (last-step velocity) is computed on the same windows in the same run; published LSTM and
Social-LSTM figures (Social-GAN paper, Table 1) are printed beside them. All numbers are
deterministic: one path per agent.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lepton_perception.core.prediction import data as td
from lepton_perception.core.prediction.training import evaluate
from lepton_perception.core.prediction.weights import MODELS_DIR, WeightsError, eval_model_name, load_model
from lepton_perception.tools.common import print_json, shared_dir
from lepton_perception.tools.train_predictor import eval_windows

log = logging.getLogger(__name__)

# Published deterministic ADE/FDE in metres (Gupta et al., Social GAN, CVPR 2018, Table 1).
PUBLISHED: dict[str, dict[str, tuple[float, float]]] = {
    "LSTM": {
        "eth": (1.09, 2.41),
        "hotel": (0.86, 1.91),
        "univ": (0.61, 1.31),
        "zara1": (0.41, 0.88),
        "zara2": (0.52, 1.11),
        "average": (0.70, 1.52),
    },
    "S-LSTM": {
        "eth": (1.09, 2.35),
        "hotel": (0.79, 1.76),
        "univ": (0.67, 1.40),
        "zara1": (0.47, 1.00),
        "zara2": (0.56, 1.17),
        "average": (0.72, 1.54),
    },
}
N_SAMPLE_WINDOWS = 4  # windows drawn per scene in the sample plot


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prediction", help="ADE/FDE on ETH/UCY (leave-one-scene-out) vs baselines")
    p.add_argument(
        "--ethucy", type=Path, default=None, help="ETH/UCY folder (default: shared data/trajectories)"
    )
    p.add_argument("--models", type=Path, default=MODELS_DIR, help="weights folder (default: shipped)")
    p.add_argument("--scene", action="append", choices=td.SCENES, help="only these scenes (repeatable)")
    p.add_argument("--plots", type=Path, default=None, help="write prediction_*.png figures into this folder")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--vehicles",
        action="store_true",
        help="vehicle paths on a driving scene vs constant velocity instead",
    )
    p.add_argument(
        "--driving-scene",
        type=Path,
        default=None,
        help="scene dir with agents.csv for --vehicles (default: shared data/driving/lyft_scene)",
    )
    p.set_defaults(func=run)


def _metrics(ade: float, fde: float) -> dict[str, float]:
    return {"ADE": round(ade, 4), "FDE": round(fde, 4)}


def evaluate_scenes(root: Path, models: Path, scenes: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metrics per scene and their average, plus per-scene (windows, predictions) for plotting."""
    out: dict[str, Any] = {"scenes": {}}
    samples: dict[str, Any] = {}
    raw: dict[str, list[tuple[float, float]]] = {"lepton": [], "cv": []}
    for scene in tqdm(scenes, desc="scenes", leave=False):
        model, _ = load_model(eval_model_name(scene), models)
        te, te_nb = td.load_windows_and_neighbours(
            td.scene_files(root, scene, "test"), eval_windows(model.config)
        )
        if len(te) == 0:
            raise ValueError(f"no test windows for scene {scene}")
        obs_len = model.config.obs_len
        lepton = evaluate(model, te, te_nb)
        cv = td.ade_fde(td.constant_velocity(te[:, :obs_len], model.config.pred_len), te[:, obs_len:])
        out["scenes"][scene] = {"lepton": _metrics(*lepton), "cv": _metrics(*cv)}
        raw["lepton"].append(lepton)
        raw["cv"].append(cv)
        samples[scene] = (model, te, te_nb)
    avg: dict[str, Any] = {}
    for key, values in raw.items():
        avg[key] = _metrics(*(float(v) for v in np.mean(values, axis=0)))
    out["average"] = avg
    return out, samples


def write_plots(result: dict[str, Any], samples: dict[str, Any], folder: Path) -> list[Path]:
    """``prediction_samples.png`` (observed/true/predicted paths) and ``prediction_ade_fde.png``."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    return [_plot_samples(result, samples, folder), _plot_bars(result, list(samples), folder)]


def _plot_samples(result: dict[str, Any], samples: dict[str, Any], folder: Path) -> Path:
    import matplotlib.pyplot as plt

    scenes = list(samples)
    fig, axes = plt.subplots(1, len(scenes), figsize=(4 * len(scenes), 4.2), squeeze=False)
    for ax, scene in zip(axes[0], scenes):
        model, te, te_nb = samples[scene]
        obs_len = model.config.obs_len
        # Fixed, evenly spaced windows among the moving agents (> 1 m travelled in the future).
        moving = np.flatnonzero(np.linalg.norm(te[:, -1] - te[:, obs_len - 1], axis=-1) > 1.0)
        pick = moving[np.linspace(0, len(moving) - 1, N_SAMPLE_WINDOWS).astype(int)] if len(moving) else []
        for k, i in enumerate(pick):
            w = te[i]
            pred = predict_positions(model, w[None, :obs_len], te_nb[i : i + 1])[0]
            cv = td.constant_velocity(w[None, :obs_len], model.config.pred_len)[0]
            o = w[obs_len - 1]
            lab = k == 0
            ax.plot(*(w[:obs_len] - o).T, "k.-", label="observed" if lab else None)
            ax.plot(*(np.vstack(w[obs_len - 1 :]) - o).T, "g.-", label="true" if lab else None)
            ax.plot(*(np.vstack((w[obs_len - 1], pred)) - o).T, "r.-", label="lepton" if lab else None)
            ax.plot(*(np.vstack((w[obs_len - 1], cv)) - o).T, "b:", label="CV" if lab else None)
        m = result["scenes"][scene]
        lep, cv_m = m["lepton"], m["cv"]
        title = f"{scene}: lepton {lep['ADE']:.2f}/{lep['FDE']:.2f}, CV {cv_m['ADE']:.2f}/{cv_m['FDE']:.2f}"
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("x - x_now (m)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("y - y_now (m)")
    axes[0][0].legend(fontsize=8, loc="best")
    fig.suptitle("ETH/UCY test windows (leave-one-scene-out models): 3.2 s observed, 4.8 s predicted")
    fig.tight_layout()
    samples_png = folder / "prediction_samples.png"
    fig.savefig(samples_png, dpi=90)
    plt.close(fig)
    return samples_png


def _plot_bars(result: dict[str, Any], scenes: list[str], folder: Path) -> Path:
    import matplotlib.pyplot as plt

    names = [*scenes, "average"]
    rows = {
        "lepton": [result["scenes"][s]["lepton"] for s in scenes] + [result["average"]["lepton"]],
        "CV": [result["scenes"][s]["cv"] for s in scenes] + [result["average"]["cv"]],
    }
    published = {k: [{"ADE": v[s][0], "FDE": v[s][1]} for s in names] for k, v in PUBLISHED.items()}
    series = {**rows, **{f"{k} (published)": v for k, v in published.items()}}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), squeeze=False)
    x = np.arange(len(names))
    width = 0.8 / len(series)
    for ax, metric in zip(axes[0], ("ADE", "FDE")):
        for j, (label, vals) in enumerate(series.items()):
            ax.bar(x + (j - (len(series) - 1) / 2) * width, [v[metric] for v in vals], width, label=label)
        ax.set_xticks(x, names)
        ax.set_ylabel(f"{metric} (m)")
        ax.set_title(f"{metric}, deterministic, lower is better")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    bars_png = folder / "prediction_ade_fde.png"
    fig.savefig(bars_png, dpi=90)
    plt.close(fig)
    return bars_png


def predict_positions(model: Any, obs: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """(B, obs_len, 2) + (B, K, 5) neighbours -> (B, pred_len, 2) on CPU, no gradients."""
    import torch

    with torch.inference_mode():
        x = torch.as_tensor(obs, dtype=torch.float32)
        out: np.ndarray = (
            model(x, torch.as_tensor(neighbours, dtype=torch.float32)).numpy().astype(np.float64)
        )
    return out


def run_vehicles(args: argparse.Namespace) -> int:
    from lepton_perception.core.prediction.config import PredictorConfig
    from lepton_perception.tools.eval_vehicle_prediction import evaluate_vehicles, print_table

    scene = args.driving_scene or shared_dir() / "data" / "driving" / "lyft_scene"
    try:
        result = evaluate_vehicles(scene, PredictorConfig())
    except (FileNotFoundError, ValueError, KeyError) as exc:
        log.error("%s", exc)
        return 2
    if args.json:
        print_json(result)
    else:
        print_table(result)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.vehicles:
        return run_vehicles(args)
    root = args.ethucy or shared_dir() / "data" / "trajectories"
    scenes = args.scene or list(td.SCENES)
    try:
        result, samples = evaluate_scenes(root, args.models, scenes)
    except (WeightsError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    if args.plots is not None:
        for path in write_plots(result, samples, args.plots):
            log.info("wrote %s", path)
    if args.json:
        print_json(result)
        return 0
    print("ETH/UCY leave-one-scene-out, obs 8 -> pred 12 (0.4 s), deterministic ADE/FDE in metres")
    header = f"{'scene':<8} {'windows':>7}  {'lepton':>11}  {'CV':>11}  {'LSTM*':>9}  {'S-LSTM*':>9}"
    print(header)
    print("-" * len(header))
    for scene in scenes:
        s = result["scenes"][scene]
        print(
            f"{scene:<8} {len(samples[scene][1]):>7}  {s['lepton']['ADE']:.3f}/{s['lepton']['FDE']:.3f}  "
            f"{s['cv']['ADE']:.3f}/{s['cv']['FDE']:.3f}  "
            f"{PUBLISHED['LSTM'][scene][0]:.2f}/{PUBLISHED['LSTM'][scene][1]:.2f}  "
            f"{PUBLISHED['S-LSTM'][scene][0]:.2f}/{PUBLISHED['S-LSTM'][scene][1]:.2f}"
        )
    a = result["average"]
    print(
        f"{'average':<8} {'':>7}  {a['lepton']['ADE']:.3f}/{a['lepton']['FDE']:.3f}  "
        f"{a['cv']['ADE']:.3f}/{a['cv']['FDE']:.3f}  0.70/1.52  0.72/1.54"
    )
    print("* published (Social GAN, Table 1); lepton and CV computed in this run")
    return 0
