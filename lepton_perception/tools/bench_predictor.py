"""``lepton bench predictor``: latency of the trajectory predictor for a batch of agents on CPU.

Two figures, each as p50/p99 over ``--iters`` timed calls after ``--warmup`` untimed ones:
- ``model``: one batched forward pass of the shipped runtime GRU for ``--agents`` agents, with
  their neighbour inputs (``torch.inference_mode``, float32), the number the 2 ms budget is about;
- ``predict``: the whole ``RoutedPredictor.predict`` on as many synthetic pedestrian tracks
  (history resampling by stamps + the forward pass + building the paths).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from lepton_perception.core.prediction.predictor import PredictorConfig, RoutedPredictor
from lepton_perception.core.types import GroundState, Track, TrackState
from lepton_perception.tools.common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predictor", help="batch latency of the GRU trajectory predictor on CPU")
    p.add_argument("--agents", type=int, default=100, help="agents per batch")
    p.add_argument("--iters", type=int, default=500, help="timed calls")
    p.add_argument("--warmup", type=int, default=50, help="untimed calls first")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to measure")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def synthetic_tracks(n: int, stamp_s: float, seed: int = 0) -> list[Track]:
    """``n`` walking pedestrians with 4 s of slightly irregular 10 Hz ground history."""
    rng = np.random.default_rng(seed)
    tracks = []
    for i in range(n):
        t = stamp_s - np.arange(40, -1, -1) * 0.1 + rng.normal(0, 0.005, 41)
        t[-1] = stamp_s
        v = rng.normal(0, 1.0, 2)
        p0 = rng.uniform(-20, 20, 2)
        xy = p0 + v[None] * (t - stamp_s)[:, None] + rng.normal(0, 0.03, (41, 2))
        ground = GroundState(xy[-1].copy(), v, np.eye(4) * 0.1)
        tracks.append(
            Track(
                track_id=i,
                class_id=0,
                state=TrackState.CONFIRMED,
                box=np.zeros(4, np.float32),
                box_velocity_pxps=np.zeros(2, np.float32),
                score=0.9,
                stamp_s=stamp_s,
                age_s=4.0,
                hits=40,
                time_since_update_s=0.0,
                ground=ground,
                history=np.column_stack((t, xy)),
            )
        )
    return tracks


def _percentiles(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1e3
    return {"p50_ms": round(float(np.percentile(a, 50)), 4), "p99_ms": round(float(np.percentile(a, 99)), 4)}


def _time(fn: object, iters: int, warmup: int) -> dict[str, float]:
    assert callable(fn)
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return _percentiles(samples)


def run(args: argparse.Namespace) -> int:
    if args.agents < 1 or args.iters < 1:
        print("--agents and --iters must be positive")
        return 2
    # cpu_threads=0: the bench sets the thread count itself for each measurement.
    predictor = RoutedPredictor(PredictorConfig(device="cpu", cpu_threads=0))
    model = predictor.rnn.model
    stamp = 1000.0
    tracks = synthetic_tracks(args.agents, stamp)
    obs = np.stack([o for o, _ in (predictor.rnn.observation(t, stamp) for t in tracks) if o is not None])
    batch = torch.as_tensor(obs, dtype=torch.float32)
    nb = None
    if model.config.max_neighbours > 0:
        nb_np = predictor.rnn.neighbours(tracks, stamp, list(range(len(tracks))), obs[:, -1])
        nb = torch.as_tensor(nb_np, dtype=torch.float32)

    def forward() -> None:
        with torch.inference_mode():
            model(batch, nb)

    def full() -> None:
        predictor.predict(tracks, stamp)

    n_params = sum(p.numel() for p in model.parameters())
    prev = torch.get_num_threads()
    results = []
    try:
        for threads in args.threads:
            torch.set_num_threads(threads)
            results.append(
                {
                    "threads": threads,
                    "model": _time(forward, args.iters, args.warmup),
                    "predict": _time(full, max(args.iters // 5, 1), max(args.warmup // 5, 1)),
                }
            )
    finally:
        torch.set_num_threads(prev)
    out = {
        "agents": args.agents,
        "parameters": n_params,
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "results": results,
        "paths_by_predictor": dict(
            zip(*np.unique([p.predictor for p in predictor.predict(tracks, stamp)], return_counts=True))
        ),
    }
    out["paths_by_predictor"] = {str(k): int(v) for k, v in out["paths_by_predictor"].items()}
    if args.json:
        print_json(out)
        return 0
    print(f"predictor bench: {args.agents} agents, {n_params} parameters, torch {torch.__version__}")
    for r in results:
        m, p = r["model"], r["predict"]
        print(
            f"  threads={r['threads']}: model forward p50 {m['p50_ms']:.3f} ms p99 {m['p99_ms']:.3f} ms | "
            f"full predict() p50 {p['p50_ms']:.3f} ms p99 {p['p99_ms']:.3f} ms"
        )
    return 0
