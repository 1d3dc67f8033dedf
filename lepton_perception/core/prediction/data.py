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

NB_FEATURES = 5  # per neighbour: dx, dy (m), vx, vy (m per step), valid flag
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class WindowConfig:
    obs_len: int = OBS_LEN
    pred_len: int = PRED_LEN
    min_peds: int = 1  # keep a window only if it has MORE than this many complete pedestrians
    max_neighbours: int = 8  # nearest other pedestrians kept per window (at the last observation)
    neighbour_radius_m: float = 6.0  # farther pedestrians are ignored

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
    return windows_and_neighbours(data, cfg)[0]


def windows_and_neighbours(data: F64, cfg: WindowConfig = WindowConfig()) -> tuple[F64, F64]:
    """Social-GAN windows (W, seq_len, 2) and each one's neighbours at the last observed sample.

    Neighbours (W, max_neighbours, NB_FEATURES): the other pedestrians present at the last two
    observed frames within ``neighbour_radius_m``, nearest first, as rows
    ``[dx, dy, vx, vy, valid]``: position relative to the agent (m) and velocity (m per step,
    last-step difference); unused rows are zero.
    """
    k = cfg.max_neighbours
    empty = (np.zeros((0, cfg.seq_len, 2)), np.zeros((0, k, NB_FEATURES)))
    if len(data) == 0:
        return empty
    data = data[np.lexsort((data[:, 1], data[:, 0]))]
    frames, starts = np.unique(data[:, 0], return_index=True)
    bounds = np.append(starts, len(data))
    out: list[F64] = []
    nbs: list[F64] = []
    for i in range(len(frames) - cfg.seq_len + 1):
        seq = data[bounds[i] : bounds[i + cfg.seq_len]]
        ids, counts = np.unique(seq[:, 1], return_counts=True)
        # A pedestrian with exactly one row per frame over the window; duplicated rows would make
        # the count reach seq_len without covering every frame, so check the frames too.
        complete = []
        for pid in ids[counts == cfg.seq_len]:
            rows = seq[seq[:, 1] == pid]
            if len(np.unique(rows[:, 0])) == cfg.seq_len:
                complete.append((pid, rows[:, 2:4]))
        if len(complete) <= cfg.min_peds:
            continue
        last = i + cfg.obs_len - 1
        now = data[bounds[last] : bounds[last + 1]]
        prev = dict(zip(data[bounds[last - 1] : bounds[last], 1], data[bounds[last - 1] : bounds[last], 2:4]))
        others = [(r[1], r[2:4], r[2:4] - prev[r[1]]) for r in now if r[1] in prev]
        for pid, xy in complete:
            out.append(xy)
            nb = np.zeros((k, NB_FEATURES))
            if k:
                rel = [(p - xy[cfg.obs_len - 1], v) for oid, p, v in others if oid != pid]
                rel = [(d, v) for d, v in rel if np.hypot(*d) <= cfg.neighbour_radius_m]
                rel.sort(key=lambda dv: float(np.hypot(*dv[0])))
                for j, (d, v) in enumerate(rel[:k]):
                    nb[j] = (d[0], d[1], v[0], v[1], 1.0)
            nbs.append(nb)
    if not out:
        return empty
    return np.stack(out), np.stack(nbs)


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
    return load_windows_and_neighbours(files, cfg)[0]


def load_windows_and_neighbours(files: list[Path], cfg: WindowConfig = WindowConfig()) -> tuple[F64, F64]:
    """Windows (W, seq_len, 2) and neighbours (W, max_neighbours, NB_FEATURES) of several files."""
    parts = [windows_and_neighbours(load_trajectory_file(f), cfg) for f in files]
    if not parts:
        return np.zeros((0, cfg.seq_len, 2)), np.zeros((0, cfg.max_neighbours, NB_FEATURES))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


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
