"""``lepton eval prediction --vehicles``: vehicle paths on a real driving scene vs constant velocity.

Protocol: the scene's CAR agents (``agents.csv``, 10 Hz) subsampled to the predictor's 0.4 s step,
8 observed -> 12 predicted samples, one window per start frame where the agent exists in all 20
samples. Each window's observed samples become a ``Track`` history (the current ground state is the
last one, its velocity the last step's) and go through the project's vehicle predictor
(``VehiclePathPredictor.predict``, the route the runtime predictor uses for vehicles). Baselines on
the same windows: ``cv_last`` (velocity of the last step) and ``cv_mean3`` (mean velocity of the last
three steps). The same windows are scored again with N(0, ``noise_m``) position noise added to each
observed sample (fixed seed), as a tracker's positions would carry. ``lepton_frame_rate``: the same
predictor given every frame of the observation span (10 Hz here, 29 samples; independent noise per
frame), as a tracker's history arrives. ADE/FDE in metres.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lepton_perception.core.prediction.config import PredictorConfig
from lepton_perception.core.prediction.data import F64
from lepton_perception.core.prediction.scene import frame_stride, load_agents, scene_windows
from lepton_perception.core.prediction.vehicle_predictor import VehiclePathPredictor
from lepton_perception.core.types import GroundState, Track, TrackState

STEP_S, OBS_LEN, PRED_LEN = 0.4, 8, 12
NOISE_M = (0.0, 0.3)  # position noise added to the observed history
SEED = 0


def _tracks(times: F64, obs: F64, position_noise_m: float) -> list[Track]:
    """Windows as tracks. The ground state stands in for a tracker's: the last position and the
    least-squares velocity of the window, with the covariance they have when positions carry
    ``position_noise_m`` of independent noise (what a constant-velocity filter would report)."""
    out = []
    r = position_noise_m**2
    for i, (t, xy) in enumerate(zip(times, obs)):
        dt = t - t.mean()
        v = (dt @ (xy - xy.mean(axis=0))) / float(dt @ dt)
        var_v = r / float(dt @ dt)
        ground = GroundState(xy[-1].copy(), v, np.diag([r, r, var_v, var_v]))
        z32 = np.zeros(4, np.float32)
        out.append(
            Track(i, 2, TrackState.CONFIRMED, z32, z32[:2], 1.0, float(t[-1]), 0.0, len(t), 0.0, ground,
                  np.column_stack((t, xy)))
        )  # fmt: skip
    return out


def constant_velocity(obs: F64, k: int) -> F64:
    """(W, obs_len, 2) -> (W, pred_len, 2) with the mean velocity of the last ``k`` steps."""
    v = (obs[:, -1] - obs[:, -1 - k]) / k  # per step
    return obs[:, -1:] + v[:, None] * np.arange(1, PRED_LEN + 1)[None, :, None]


def ade_fde(pred: F64, truth: F64) -> dict[str, float]:
    d = np.linalg.norm(pred - truth, axis=-1)  # (W, T)
    return {"ADE": round(float(d.mean()), 4), "FDE": round(float(d[:, -1].mean()), 4)}


def lepton_paths(times: F64, obs: F64, config: PredictorConfig) -> F64:
    predictor = VehiclePathPredictor(config.vehicle(), STEP_S, PRED_LEN, config.max_extrapolation_s, OBS_LEN)
    # Each window on its own clock: one predict call per window end stamp.
    tracks = _tracks(times, obs, config.vehicle_position_noise_m)
    paths = [predictor.predict([tr], float(tr.stamp_s))[0] for tr in tracks]
    return np.stack([p.positions_m for p in paths])


def evaluate_vehicles(scene: Path, config: PredictorConfig) -> dict[str, Any]:
    stamps, tracks = load_agents(scene, ("CAR",))
    times, windows, ids, starts = scene_windows(stamps, tracks, STEP_S, OBS_LEN, PRED_LEN)
    if len(windows) == 0:
        raise ValueError(f"no {OBS_LEN + PRED_LEN}-sample CAR windows in {scene}")
    truth = windows[:, OBS_LEN:]
    moving = np.linalg.norm(truth[:, -1] - windows[:, OBS_LEN - 1], axis=1) > 1.0
    rng, rng_dense = np.random.default_rng(SEED), np.random.default_rng(SEED + 1)
    # The same observation span at the scene's frame rate (a tracker's history, e.g. 10 Hz).
    dense = np.arange((OBS_LEN - 1) * frame_stride(stamps, STEP_S) + 1)
    dense_t = np.stack([stamps[s + dense] for s in starts])
    dense_xy = np.stack([tracks[i][s + dense] for i, s in zip(ids, starts, strict=True)])
    out: dict[str, Any] = {"scene": str(scene), "windows": len(windows), "agents": len(set(ids))}
    out["moving_windows"] = int(moving.sum())
    for noise in NOISE_M:
        obs = windows[:, :OBS_LEN] + rng.normal(0.0, noise, windows[:, :OBS_LEN].shape)
        preds = {
            "lepton": lepton_paths(times[:, :OBS_LEN], obs, config),
            "lepton_frame_rate": lepton_paths(
                dense_t, dense_xy + rng_dense.normal(0.0, noise, dense_xy.shape), config
            ),
            "cv_last": constant_velocity(obs, 1),
            "cv_mean3": constant_velocity(obs, 3),
        }
        out[f"noise_{noise:g}m"] = {
            "all": {k: ade_fde(p, truth) for k, p in preds.items()},
            "moving": {k: ade_fde(p[moving], truth[moving]) for k, p in preds.items()},
            "parked": {k: ade_fde(p[~moving], truth[~moving]) for k, p in preds.items()},
        }
    return out


def print_table(result: dict[str, Any]) -> None:
    print(
        f"vehicle paths, {result['scene']}: {result['windows']} CAR windows of {result['agents']} agents "
        f"({result['moving_windows']} moving > 1 m), obs {OBS_LEN} -> pred {PRED_LEN} at {STEP_S} s, m"
    )
    names = ("lepton", "lepton_frame_rate", "cv_last", "cv_mean3")
    print(f"{'history noise':<14} {'subset':<7}" + "".join(f" {k:>17}" for k in names))
    for noise in NOISE_M:
        for subset, row in result[f"noise_{noise:g}m"].items():
            cells = "".join(f" {row[k]['ADE']:>8.3f}/{row[k]['FDE']:<8.3f}" for k in names)
            print(f"{noise:<6.1f} m{'':<6} {subset:<7}{cells}")
