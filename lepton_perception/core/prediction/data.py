"""ETH/UCY trajectory windows, the constant-velocity baseline and ADE/FDE.

The windowing reproduces the Social-GAN loader (``sgan/data/trajectories.py``) exactly, because the
published numbers and our constant-velocity reference (0.52/1.14 m average) depend on it:

- a file's rows are ``frame ped_id x y`` (metres); its unique frame numbers, sorted, are the time
  axis. Consecutive unique frames are 0.4 s apart in these files (frame step 10), except at a few
  annotation gaps which the Social-GAN loader (and so the benchmark) ignores;
- every run of ``seq_len`` (20) consecutive unique frames, stride 1, is one window;
- a pedestrian contributes a trajectory if it has a row in each of the 20 frames;
- a window is kept only if it holds more than ``min_peds`` (1) such pedestrians: Social-GAN's
  ``num_peds_considered > min_ped``. Dropping that rule gives eth 1.08/2.28 instead of 1.00/2.23.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

SCENES: tuple[str, ...] = ("eth", "hotel", "univ", "zara1", "zara2")
SPLITS: tuple[str, ...] = ("train", "val", "test")
STEP_S = 0.4  # time between consecutive samples of the benchmark, seconds
OBS_LEN = 8  # observed samples (3.2 s including the current one)
PRED_LEN = 12  # predicted samples (4.8 s)

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class WindowConfig:
    obs_len: int = OBS_LEN
    pred_len: int = PRED_LEN
    min_peds: int = 1  # keep a window only if it has MORE than this many complete pedestrians

    @property
    def seq_len(self) -> int:
        return self.obs_len + self.pred_len


def load_trajectory_file(path: Path) -> F64:
    """(N, 4) rows ``frame ped_id x y``; raises ValueError on a malformed file."""
    try:
        data = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: not a 'frame ped_id x y' table: {exc}") from exc
    if data.size == 0:
        return np.zeros((0, 4))
    if data.shape[1] != 4:
        raise ValueError(f"{path}: expected 4 columns (frame ped_id x y), got {data.shape[1]}")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{path}: non-finite values")
    return data


def windows_from_array(data: F64, cfg: WindowConfig = WindowConfig()) -> F64:
    """Social-GAN windows of one file: (W, seq_len, 2) positions in metres."""
    if len(data) == 0:
        return np.zeros((0, cfg.seq_len, 2))
    data = data[np.lexsort((data[:, 1], data[:, 0]))]
    frames, starts = np.unique(data[:, 0], return_index=True)
    bounds = np.append(starts, len(data))
    out: list[F64] = []
    for i in range(len(frames) - cfg.seq_len + 1):
        seq = data[bounds[i] : bounds[i + cfg.seq_len]]
        ids, counts = np.unique(seq[:, 1], return_counts=True)
        # A pedestrian with exactly one row per frame over the window; duplicated rows would make
        # the count reach seq_len without covering every frame, so check the frames too.
        complete = []
        for pid in ids[counts == cfg.seq_len]:
            rows = seq[seq[:, 1] == pid]
            if len(np.unique(rows[:, 0])) == cfg.seq_len:
                complete.append(rows[:, 2:4])
        if len(complete) > cfg.min_peds:
            out.extend(complete)
    if not out:
        return np.zeros((0, cfg.seq_len, 2))
    return np.stack(out)


def scene_files(root: Path, scene: str, split: str) -> list[Path]:
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; expected one of {SCENES}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    d = Path(root) / scene / split
    files = sorted(d.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no trajectory files in {d}")
    return files


def all_scenes_files(root: Path, split: str) -> list[Path]:
    """Each distinct file of ``split`` once (every file name appears in four scene folders)."""
    by_name: dict[str, Path] = {}
    for scene in SCENES:
        for f in scene_files(root, scene, split):
            by_name.setdefault(f.name, f)
    return [by_name[k] for k in sorted(by_name)]


def load_windows(files: list[Path], cfg: WindowConfig = WindowConfig()) -> F64:
    parts = [windows_from_array(load_trajectory_file(f), cfg) for f in files]
    return np.concatenate(parts) if parts else np.zeros((0, cfg.seq_len, 2))


def constant_velocity(obs: F64, pred_len: int = PRED_LEN) -> F64:
    """Last-step velocity extrapolation: (B, T_obs, 2) -> (B, pred_len, 2)."""
    v = obs[:, -1] - obs[:, -2]
    k = np.arange(1, pred_len + 1, dtype=np.float64)
    result: F64 = obs[:, -1:, :] + v[:, None, :] * k[None, :, None]
    return result


def ade_fde(pred: F64, truth: F64) -> tuple[float, float]:
    """Average and final displacement error in metres over (B, T, 2) arrays."""
    if pred.shape != truth.shape or pred.ndim != 3 or len(pred) == 0:
        raise ValueError(f"ade_fde needs equal non-empty (B, T, 2) arrays, got {pred.shape} {truth.shape}")
    err = np.linalg.norm(pred - truth, axis=-1)
    return float(err.mean()), float(err[:, -1].mean())
