"""The pedestrian/cyclist route: the GRU on resampled ground histories, one batched forward pass.

The only prediction module that imports torch. For every track the history (plus the current ground
state) is resampled by stamps to the model grid (``obs_len`` samples ``step_s`` apart, the last one
at ``stamp_s``); each agent gets its nearest other pedestrians/cyclists as social input when the
model has a neighbour encoder (the shipped one does). A history spanning less than the model's window
but at least ``min_history_s`` with ``min_history_points`` is padded before its first sample by
constant-velocity back-extrapolation (least-squares velocity of the history); shorter histories are
not eligible (``observation`` says why) and the router gives them constant velocity. Positions are in
the tracks' ground frame; the GRU is rotation-equivariant, so the frame's orientation does not matter.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lepton_perception.core.prediction.config import PredictorConfig
from lepton_perception.core.prediction.data import F64
from lepton_perception.core.prediction.history import anchor, finite_ground, interp_rows, samples
from lepton_perception.core.prediction.model import TrajectoryGRU
from lepton_perception.core.prediction.weights import MODELS_DIR, load_model
from lepton_perception.core.types import Category, PredictedPath, Track

SOCIAL = (Category.PEDESTRIAN, Category.CYCLIST)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class RnnPredictor:
    """Implements ``Predictor`` for the eligible pedestrians and cyclists among ``tracks``."""

    name = "rnn"

    def __init__(self, config: PredictorConfig | None = None, model: TrajectoryGRU | None = None) -> None:
        config = config or PredictorConfig()
        self.config = config
        self.device = _device(config.device)
        if model is None:
            directory = Path(config.models_dir) if config.models_dir else MODELS_DIR
            model, _ = load_model(config.model_name, directory, self.device)
        self.model = model.to(self.device).eval()
        self.step_s = model.config.step_s
        self.steps_s = np.arange(1, model.config.pred_len + 1, dtype=np.float64) * self.step_s  # (T,) s
        self.counts: Counter[str] = Counter()  # malformed histories seen while resampling
        self._threads_done: set[int] = set()

    def _limit_threads(self) -> None:
        """More threads only add wake-up latency for a model this small (docs/prediction.md).

        Set once per calling thread: the OpenMP thread count is per thread, and a node runs the
        pipeline in a worker thread where a count set in the constructor's thread does not apply
        (idle OpenMP workers there spin against the detector's threads, measured 3x slower frames).
        """
        ident = threading.get_ident()
        if ident in self._threads_done:
            return
        self._threads_done.add(ident)
        n = self.config.cpu_threads
        if self.device.type == "cpu" and n > 0 and torch.get_num_threads() != n:
            torch.set_num_threads(n)

    def observation(self, track: Track, stamp_s: float) -> tuple[F64 | None, str]:
        """(obs_len, 2) model input for ``track`` at ``stamp_s`` or (None, why it is not eligible)."""
        got = samples(track, stamp_s, self.config.max_extrapolation_s, self.counts)
        if isinstance(got, str):
            return None, got
        t, xy = got
        cfg = self.config
        if len(t) < cfg.min_history_points or t[-1] - t[0] < cfg.min_history_s - 1e-9:
            return None, "short_history"
        n = self.model.config.obs_len
        grid: F64 = stamp_s - (n - 1 - np.arange(n, dtype=np.float64)) * self.step_s  # (n,) oldest first
        obs = interp_rows(t, xy, grid)
        before = grid < t[0]
        if np.any(before):
            # Constant-velocity back-extrapolation with the least-squares velocity of the history.
            tc = t - t.mean()
            v = (tc[:, None] * (xy - xy.mean(axis=0))).sum(axis=0) / max(float((tc**2).sum()), 1e-9)
            obs[before] = xy[0] + v[None] * (grid[before] - t[0])[:, None]
        return obs, "ok"

    def neighbours(self, tracks: Sequence[Track], stamp_s: float, agents: list[int], positions: F64) -> F64:
        """(B, max_neighbours, 5) social input for the tracks ``agents`` (indices) at ``positions``.

        Neighbours are the other pedestrians/cyclists with a ground state (what the model was trained
        with), nearest first within the model's radius: ``[dx, dy, vx, vy, 1]`` with the velocity in
        metres per model step, unused rows zero.
        """
        cfg = self.model.config
        idx = [i for i, t in enumerate(tracks) if finite_ground(t) and t.category in SOCIAL]
        out = np.zeros((len(agents), cfg.max_neighbours, 5))
        if not idx:
            return out
        anchors = [anchor(tracks[i], stamp_s) for i in idx]
        pos = np.array([a[0] for a in anchors])  # (M, 2)
        vel = np.array([a[1] for a in anchors]) * self.step_s  # (M, 2) m per step
        rel = pos[None] - positions[:, None]  # (B, M, 2)
        dist = np.linalg.norm(rel, axis=-1)
        dist[np.asarray(agents)[:, None] == np.asarray(idx)[None]] = np.inf  # not oneself
        dist[~np.isfinite(rel).all(axis=-1)] = np.inf
        order = np.argsort(dist, axis=1, kind="stable")[:, : cfg.max_neighbours]  # (B, K')
        near = np.take_along_axis(dist, order, axis=1) <= cfg.neighbour_radius_m  # (B, K')
        rows = np.concatenate(
            (np.take_along_axis(rel, order[..., None], axis=1), vel[order], np.ones(order.shape + (1,))),
            axis=-1,
        )
        out[:, : order.shape[1]] = np.where(near[..., None], rows, 0.0)
        return out

    def predict_agents(
        self, tracks: Sequence[Track], stamp_s: float, agents: list[int], obs: list[F64]
    ) -> list[PredictedPath]:
        """Paths of ``tracks[agents]`` from their (obs_len, 2) observations; all ``tracks`` are context."""
        if not agents:
            return []
        batch_np = np.stack(obs)  # (B, obs_len, 2)
        batch = torch.as_tensor(batch_np, dtype=torch.float32, device=self.device)
        nb = None
        if self.model.config.max_neighbours > 0:
            nb_np = self.neighbours(tracks, stamp_s, agents, batch_np[:, -1])
            nb = torch.as_tensor(nb_np, dtype=torch.float32, device=self.device)
        self._limit_threads()
        with torch.inference_mode():
            pred = self.model(batch, nb).cpu().numpy().astype(np.float64)  # (B, pred_len, 2)
        return [
            PredictedPath(tracks[i].track_id, stamp_s + self.steps_s, pred[j], 1.0, self.name)
            for j, i in enumerate(agents)
        ]

    def predict(self, tracks: Sequence[Track], stamp_s: float) -> list[PredictedPath]:
        agents, obs = [], []
        for i, track in enumerate(tracks):
            if finite_ground(track) and track.category in SOCIAL:
                o, _ = self.observation(track, stamp_s)
                if o is not None:
                    agents.append(i)
                    obs.append(o)
        return self.predict_agents(tracks, stamp_s, agents, obs)
