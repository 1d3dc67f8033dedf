"""Agent trajectories of a driving scene (``agents.csv`` in the shared Lyft scene format) as windows.

A scene directory holds ``agents.csv`` with ``timestamp_ns,track_id,label,...,x_m,y_m,...`` rows in
one fixed world frame. Windows follow the ETH/UCY protocol at the predictor's step: positions every
``step_s`` (the 10 Hz frames subsampled, no interpolation), ``obs_len`` observed then ``pred_len``
predicted, one window per start frame whose every sample exists for that agent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from lepton_perception.core.prediction.data import F64


def load_agents(scene: Path, labels: tuple[str, ...]) -> tuple[F64, dict[int, F64]]:
    """(F,) frame stamps in seconds and, per track id, (F, 2) positions with NaN where absent."""
    path = scene / "agents.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (a scene directory holds agents.csv)")
    rows: list[tuple[int, int, float, float]] = []
    with path.open() as f:
        for r in csv.DictReader(f):
            if r["label"] in labels:
                rows.append((int(r["timestamp_ns"]), int(r["track_id"]), float(r["x_m"]), float(r["y_m"])))
    with path.open() as f:
        stamps_ns = np.unique([int(r["timestamp_ns"]) for r in csv.DictReader(f)])
    frame = {int(s): i for i, s in enumerate(stamps_ns)}
    tracks: dict[int, F64] = {}
    for ts, tid, x, y in rows:
        xy = tracks.setdefault(tid, np.full((len(stamps_ns), 2), np.nan))
        xy[frame[ts]] = (x, y)
    return (stamps_ns - stamps_ns[0]) * 1e-9, tracks


def frame_stride(stamps_s: F64, step_s: float) -> int:
    """Frames per predictor step: ``step_s`` over the median frame interval, rounded (>= 1)."""
    return max(round(step_s / float(np.median(np.diff(stamps_s)))), 1)


def scene_windows(
    stamps_s: F64, tracks: dict[int, F64], step_s: float, obs_len: int, pred_len: int
) -> tuple[F64, F64, list[int], list[int]]:
    """(W, obs_len + pred_len) stamps, (W, obs_len + pred_len, 2) positions, each window's track id
    and start frame. Samples are ``frame_stride`` frames apart."""
    stride = frame_stride(stamps_s, step_s)
    span = (obs_len + pred_len - 1) * stride
    times, windows, ids, starts = [], [], [], []
    for tid in sorted(tracks):
        xy = tracks[tid]
        for start in range(len(stamps_s) - span):
            idx = start + stride * np.arange(obs_len + pred_len)
            w = xy[idx]
            if np.isfinite(w).all():
                times.append(stamps_s[idx])
                windows.append(w)
                ids.append(tid)
                starts.append(start)
    n = obs_len + pred_len
    return np.array(times).reshape(-1, n), np.array(windows).reshape(-1, n, 2), ids, starts
