"""Runtime trajectory predictor: tracker tracks in, ground-plane paths with absolute times out.

Per call, for every track with a ground state:

- pedestrians and cyclists: the ground-plane history (plus the current ground state) is resampled
  by stamps to the model grid (8 samples, 0.4 s apart, the last one at ``stamp_s``) and all such
  agents go through the GRU in one batched forward pass (``predictor="rnn"``), each with its nearest
  other pedestrians/cyclists (positions and Kalman velocities at ``stamp_s``) as social input when
  the model has a neighbour encoder (the shipped one does). A history spanning
  less than the model's 2.8 s but at least ``min_history_s`` with ``min_history_points`` is padded
  before its first sample by constant-velocity back-extrapolation (velocity: least-squares fit over
  the available history). Shorter histories fall back to the Kalman ground velocity
  (``predictor="cv"``), counted under ``fallback_counts["short_history"]`` and logged at debug;
- vehicles use a motion model: CTRV (constant speed and turn rate, from the Kalman velocity and the
  heading change over the last ``ctrv_window_s``) or constant velocity when the turn rate cannot be
  estimated (too slow, history too short) or ``vehicle_model="cv"``. No vehicle-trained RNN exists yet;
- anything else (unknown category) gets constant velocity.

Positions are in the tracks' ground frame (metres); the GRU is rotation-equivariant, so the frame's
orientation does not matter. Times are ``stamp_s + step_s * k``, k = 1..pred_len.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lepton_perception.core.prediction.data import F64
from lepton_perception.core.prediction.model import TrajectoryGRU
from lepton_perception.core.prediction.weights import MODELS_DIR, RUNTIME_MODEL, load_model
from lepton_perception.core.types import Category, PredictedPath, Track

log = logging.getLogger(__name__)


def interp_rows(times: F64, values: F64, query: F64) -> F64:
    """Linear interpolation of (K, D) ``values`` at increasing ``times`` (K,) -> (Q, D) at ``query``.

    Outside [times[0], times[-1]] the first/last segment is extended linearly (needs K >= 2).
    """
    if len(times) < 2:
        raise ValueError("interpolation needs at least two samples")
    result: F64 = np.stack([np.interp(query, times, values[:, d]) for d in range(values.shape[1])], axis=1)
    for mask, a, b in ((query < times[0], 0, 1), (query > times[-1], -2, -1)):
        if mask.any():
            slope = (values[b] - values[a]) / max(float(times[b] - times[a]), 1e-9)
            result[mask] = values[b] + slope[None] * (query[mask] - times[b])[:, None]
    return result


def _finite_ground(track: Track) -> bool:
    """A ground state with finite (2,) position and velocity."""
    g = track.ground
    if g is None:
        return False
    p, v = np.asarray(g.position_m), np.asarray(g.velocity_mps)
    return p.shape == (2,) and v.shape == (2,) and bool(np.isfinite(p).all() and np.isfinite(v).all())


@dataclass(frozen=True)
class PredictorConfig:
    model_name: str = RUNTIME_MODEL  # shipped weights in lepton_perception/models/
    models_dir: str = ""  # empty: the package's models folder
    device: str = "auto"  # auto (CUDA when present), cpu, cuda, cuda:N
    min_history_points: int = 3  # samples (history rows + current state) needed for the RNN
    min_history_s: float = 0.8  # history span needed for the RNN; shorter -> CV fallback
    max_extrapolation_s: float = 1.0  # a track last seen longer ago than this gets CV
    vehicle_model: str = "ctrv"  # "ctrv" or "cv"
    ctrv_window_s: float = 1.2  # heading change measured over this much history
    ctrv_min_speed_mps: float = 1.0  # slower vehicles: heading too noisy for a turn rate -> CV
    ctrv_max_yaw_rate_rps: float = 0.8  # clamp of the estimated turn rate
    cpu_threads: int = 1  # torch threads on CPU (process-wide; 1 measured fastest for this model), 0: keep

    def __post_init__(self) -> None:
        if self.vehicle_model not in ("ctrv", "cv"):
            raise ValueError(f"vehicle_model must be 'ctrv' or 'cv', got {self.vehicle_model!r}")
        if self.min_history_points < 2 or self.min_history_s <= 0 or self.ctrv_window_s <= 0:
            raise ValueError(f"invalid predictor config {self}")


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class RnnTrajectoryPredictor:
    """Implements ``Predictor``; ``fallback_counts`` counts why tracks did not get the RNN."""

    name = "rnn"

    def __init__(
        self, config: PredictorConfig = PredictorConfig(), model: TrajectoryGRU | None = None
    ) -> None:
        self.config = config
        self.device = _device(config.device)
        if model is None:
            directory = Path(config.models_dir) if config.models_dir else MODELS_DIR
            model, _ = load_model(config.model_name, directory, self.device)
        self.model = model.to(self.device).eval()
        self.step_s = model.config.step_s
        self.steps = np.arange(1, model.config.pred_len + 1, dtype=np.float64) * self.step_s  # (T,) s
        self.fallback_counts: Counter[str] = Counter()

    def _limit_threads(self) -> None:
        """More threads only add wake-up latency for a model this small (docs/prediction.md).

        Checked on every call because the OpenMP thread count is per calling thread: a node runs the
        pipeline in a worker thread, where a count set in the constructor's thread does not apply, and
        idle OpenMP workers there spin against the detector's threads (measured 3x slower frames).
        """
        n = self.config.cpu_threads
        if self.device.type == "cpu" and n > 0 and torch.get_num_threads() != n:
            torch.set_num_threads(n)

    def predict(self, tracks: Sequence[Track], stamp_s: float) -> list[PredictedPath]:
        paths: dict[int, PredictedPath] = {}
        order: list[int] = []
        rnn_ids: list[int] = []
        rnn_obs: list[F64] = []
        for i, track in enumerate(tracks):
            if track.ground is None:
                self.fallback_counts["no_ground_state"] += 1
                continue
            if not _finite_ground(track):
                self.fallback_counts["bad_ground_state"] += 1
                log.debug("track %d: non-finite ground state, no path", track.track_id)
                continue
            order.append(i)
            category = track.category
            if category == Category.VEHICLE:
                paths[i] = self._vehicle_path(track, stamp_s)
            elif category in (Category.PEDESTRIAN, Category.CYCLIST):
                obs, reason = self.observation(track, stamp_s)
                if obs is None:
                    self._count(track, reason)
                    paths[i] = self._cv_path(track, stamp_s)
                else:
                    rnn_ids.append(i)
                    rnn_obs.append(obs)
            else:
                self._count(track, "unknown_category")
                paths[i] = self._cv_path(track, stamp_s)
        if rnn_obs:
            obs = np.stack(rnn_obs)  # (B, obs_len, 2)
            batch = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
            nb = None
            if self.model.config.max_neighbours > 0:
                nb_np = self.neighbours(tracks, stamp_s, rnn_ids, obs[:, -1])
                nb = torch.as_tensor(nb_np, dtype=torch.float32, device=self.device)
            self._limit_threads()
            with torch.inference_mode():
                pred = self.model(batch, nb).cpu().numpy().astype(np.float64)  # (B, pred_len, 2)
            for j, i in enumerate(rnn_ids):
                paths[i] = PredictedPath(tracks[i].track_id, stamp_s + self.steps, pred[j], 1.0, "rnn")
        return [paths[i] for i in order]

    def neighbours(self, tracks: Sequence[Track], stamp_s: float, agents: list[int], positions: F64) -> F64:
        """(B, max_neighbours, 5) social input for the tracks ``agents`` (indices) at ``positions``.

        Neighbours are the other pedestrians/cyclists with a ground state (what the model was trained
        with), nearest first within the model's radius: ``[dx, dy, vx, vy, 1]`` with the velocity in
        metres per model step, unused rows zero.
        """
        cfg = self.model.config
        idx = [
            i
            for i, t in enumerate(tracks)
            if _finite_ground(t) and t.category in (Category.PEDESTRIAN, Category.CYCLIST)
        ]
        out = np.zeros((len(agents), cfg.max_neighbours, 5))
        if not idx:
            return out
        anchors = [self._anchor(tracks[i], stamp_s) for i in idx]
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

    def _count(self, track: Track, reason: str) -> None:
        self.fallback_counts[reason] += 1
        log.debug("track %d: constant velocity instead of the RNN (%s)", track.track_id, reason)

    def _samples(self, track: Track, stamp_s: float) -> tuple[F64, F64] | str:
        """Cleaned (K,) stamps and (K, 2) positions ending at ``stamp_s``, or a fallback reason."""
        assert track.ground is not None
        hist: F64 = np.asarray(track.history, dtype=np.float64)
        if hist.ndim != 2 or hist.shape[1] != 3:
            self.fallback_counts["bad_history_shape"] += 1
            hist = np.zeros((0, 3))
        cur = np.array([[track.stamp_s, *track.ground.position_m]], dtype=np.float64)
        cur_ok = track.stamp_s <= stamp_s + 1e-6 and bool(np.isfinite(cur).all())
        th = hist[:, 0]
        if (
            cur_ok
            and len(hist) > 1
            and th[-1] <= track.stamp_s + 1e-6
            and bool(np.isfinite(hist).all())
            and bool((th[1:] - th[:-1] > 1e-6).all())
        ):
            # Fast path (the tracker's normal output): already clean and sorted, the current state
            # is newest; it replaces a row with the same stamp.
            if track.stamp_s - th[-1] > 1e-6:
                hist = np.concatenate((hist, cur))
            else:
                hist = np.concatenate((hist[:-1], cur))
        else:
            hist = hist[np.isfinite(hist).all(axis=1) & (th <= stamp_s + 1e-6)]
            if cur_ok:
                hist = np.concatenate((hist, cur))
            if len(hist) == 0:
                return "no_history"
            # Sort by stamp and keep the last row of equal stamps (the current state wins).
            hist = hist[np.argsort(hist[:, 0], kind="stable")]
            hist = hist[np.append(np.diff(hist[:, 0]) > 1e-6, True)]
        t, xy = hist[:, 0], hist[:, 1:3]
        gap = stamp_s - t[-1]
        if gap > self.config.max_extrapolation_s:
            return "stale"
        if gap > 1e-6:  # coasting / late call: extend with the Kalman velocity to now
            v = np.asarray(track.ground.velocity_mps, dtype=np.float64)
            t = np.append(t, stamp_s)
            xy = np.concatenate((xy, xy[-1:] + v[None] * gap))
        return t, xy

    def observation(self, track: Track, stamp_s: float) -> tuple[F64 | None, str]:
        """(obs_len, 2) model input for ``track`` at ``stamp_s`` or (None, fallback reason)."""
        samples = self._samples(track, stamp_s)
        if isinstance(samples, str):
            return None, samples
        t, xy = samples
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

    def _anchor(self, track: Track, stamp_s: float) -> tuple[F64, F64]:
        assert track.ground is not None
        v = np.asarray(track.ground.velocity_mps, dtype=np.float64)
        p = np.asarray(track.ground.position_m, dtype=np.float64) + v * max(stamp_s - track.stamp_s, 0.0)
        return p, v

    def _cv_path(self, track: Track, stamp_s: float) -> PredictedPath:
        p, v = self._anchor(track, stamp_s)
        return PredictedPath(
            track.track_id, stamp_s + self.steps, p + v[None] * self.steps[:, None], 1.0, "cv"
        )

    def _vehicle_path(self, track: Track, stamp_s: float) -> PredictedPath:
        cfg = self.config
        if cfg.vehicle_model == "cv":
            return self._cv_path(track, stamp_s)
        p, v = self._anchor(track, stamp_s)
        speed = float(np.hypot(*v))
        if speed < cfg.ctrv_min_speed_mps:
            self.fallback_counts["ctrv_slow"] += 1
            return self._cv_path(track, stamp_s)
        samples = self._samples(track, stamp_s)
        if isinstance(samples, str) or samples[0][-1] - samples[0][0] < cfg.ctrv_window_s - 1e-9:
            self.fallback_counts["ctrv_short_history"] += 1
            return self._cv_path(track, stamp_s)
        t, xy = samples
        w = cfg.ctrv_window_s
        a, b, c = interp_rows(t, xy, np.array([stamp_s - w, stamp_s - w / 2, stamp_s]))
        h1 = math.atan2(b[1] - a[1], b[0] - a[0])
        h2 = math.atan2(c[1] - b[1], c[0] - b[0])
        yaw_rate = (h2 - h1 + math.pi) % (2 * math.pi) - math.pi
        yaw_rate = float(np.clip(yaw_rate / (w / 2), -cfg.ctrv_max_yaw_rate_rps, cfg.ctrv_max_yaw_rate_rps))
        heading = math.atan2(v[1], v[0])
        dt = self.steps
        if abs(yaw_rate) < 1e-4:
            offsets = np.stack((np.cos(heading) * speed * dt, np.sin(heading) * speed * dt), axis=1)
        else:
            r = speed / yaw_rate
            ang = heading + yaw_rate * dt
            offsets = np.stack(
                (r * (np.sin(ang) - np.sin(heading)), r * (np.cos(heading) - np.cos(ang))), axis=1
            )
        return PredictedPath(track.track_id, stamp_s + dt, p + offsets, 1.0, "ctrv")
