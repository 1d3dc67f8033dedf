"""``lepton bench detector``: latency and throughput of each detector backend, side by side.

All backends run in one process on the same images, interleaved call by call (torch, onnxruntime,
torch, ...), so a load change on the machine hits them alike. Times are end to end ``detect()``
calls: letterbox, upload, network, decode, NMS and boxes back in image pixels; each row also gives the
median of each stage (``stages_ms_p50``: preprocess, inference, postprocess, from the detector's
``last_timings_ms``). The batch is made of the shared street/test photos (different sizes, as from
several cameras), repeated to the batch size.

Precisions: fp32 everywhere, fp16 for torch on CUDA and onnxruntime with TensorRT, int8 for
onnxruntime on CPU (the cached statically quantised model, built first if missing). ``--repeats``
runs the whole interleaved measurement several times; ``ratios`` gives, per repeat, the p50 latency
of each run divided by fp32 onnxruntime's at the same batch (paired: same repeat, same load).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from lepton_perception.core.detection import Detector, DetectorConfig, DeviceUnavailableError, StageTimings
from lepton_perception.tools.common import default_model, print_json, shared_dir

log = logging.getLogger(__name__)

IMAGES = ("mmod_cars_test_image.jpg", "mmod_cars_test_image2.jpg", "dog.jpg", "person.jpg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detector", help="detector latency (p50/p99) and throughput per backend and batch")
    p.add_argument(
        "--backends", nargs="+", default=["torch", "onnxruntime"], choices=["torch", "onnxruntime"]
    )
    p.add_argument("--batches", nargs="+", type=int, default=[1, 4, 8])
    p.add_argument(
        "--iters", type=int, default=20, help="timed calls per backend and batch (bounds run time)"
    )
    p.add_argument("--warmup", type=int, default=3, help="untimed calls per backend and batch")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument(
        "--precision",
        nargs="+",
        default=["fp16", "fp32", "int8"],
        choices=["fp16", "fp32", "int8"],
        help="fp16: torch on CUDA, onnxruntime with TensorRT; int8: onnxruntime on CPU; fp32 everywhere",
    )
    p.add_argument(
        "--repeats", type=int, default=1, help="independent interleaved measurements (paired ratios)"
    )
    p.add_argument(
        "--threads", type=int, default=0, help="CPU threads for every backend (0: library default)"
    )
    p.add_argument("--model", default=None, help="YOLOX ONNX weights (default: shared yolox_nano.onnx)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _build(backend: str, config: DetectorConfig) -> Detector:
    if backend == "torch":
        from lepton_perception.core.detection.torch_backend import TorchDetector

        return TorchDetector(config)
    from lepton_perception.core.detection.onnx_backend import OnnxRuntimeDetector

    return OnnxRuntimeDetector(config)


def _has_tensorrt(det: Detector) -> bool:
    from lepton_perception.core.detection.onnx_backend import OnnxRuntimeDetector

    return isinstance(det, OnnxRuntimeDetector) and "TensorrtExecutionProvider" in det.session.get_providers()


def _load_images() -> list[npt.NDArray[np.uint8]]:
    images = []
    for name in IMAGES:
        path = shared_dir() / "data" / "images" / name
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"benchmark image {path} is missing or unreadable")
        images.append(np.asarray(img, np.uint8))
    return images


def _detectors(args: argparse.Namespace) -> list[Detector]:
    """One detector per (backend, precision) that this machine runs."""
    base = DetectorConfig(
        model_path=args.model or default_model(),
        device=args.device,
        cpu_threads=args.threads,
        max_batch=max(args.batches),
    )
    runs: list[Detector] = []
    unavailable: list[DeviceUnavailableError] = []
    for backend in args.backends:
        try:
            fp32 = _build(backend, replace(base, precision="fp32"))
        except DeviceUnavailableError as exc:  # e.g. torch sees the GPU, onnxruntime is CPU-only
            log.warning("%s skipped: %s", backend, exc)
            unavailable.append(exc)
            continue
        # fp16 exists for torch on CUDA and for onnxruntime's TensorRT provider; elsewhere only fp32 runs.
        fp16_possible = fp32.device != "cpu" and (backend == "torch" or _has_tensorrt(fp32))
        if "fp32" in args.precision or not fp16_possible:
            runs.append(fp32)
        if "fp16" in args.precision and fp16_possible:
            runs.append(_build(backend, replace(base, precision="fp16")))
        if "int8" in args.precision and backend == "onnxruntime":
            runs.append(_build(backend, replace(base, precision="int8", device="cpu")))
    if not runs and unavailable:
        raise unavailable[0]
    return runs


def _measure(
    runs: Sequence[Detector], batch: list[npt.NDArray[np.uint8]], args: argparse.Namespace, bar: tqdm
) -> list[tuple[list[float], list[StageTimings]]]:
    """Interleaved calls (run 1, run 2, ..., run 1, ...): per run the call times (s) and stage times."""
    out: list[tuple[list[float], list[StageTimings]]] = [([], []) for _ in runs]
    for it in range(args.warmup + args.iters):
        for k, det in enumerate(runs):
            t0 = time.perf_counter()
            det.detect(batch)
            dt = time.perf_counter() - t0
            if it >= args.warmup:
                out[k][0].append(dt)
                out[k][1].append(det.last_timings_ms)
            bar.update()
    return out


def _row(det: Detector, batch_size: int, repeat: int, ts: list[float], stages: list[StageTimings]) -> dict:
    ms = np.asarray(ts) * 1e3
    return {
        "backend": det.name,
        "device": det.device,
        "precision": det.precision,
        "batch": batch_size,
        "repeat": repeat,
        "call_ms_p50": round(float(np.percentile(ms, 50)), 2),
        "call_ms_p99": round(float(np.percentile(ms, 99)), 2),
        "image_ms_p50": round(float(np.percentile(ms, 50)) / batch_size, 2),
        "image_ms_p99": round(float(np.percentile(ms, 99)) / batch_size, 2),
        "images_per_s": round(batch_size * len(ms) / (ms.sum() / 1e3), 1),
        "stages_ms_p50": {
            stage: round(float(np.median([getattr(s, stage) for s in stages])), 2)
            for stage in ("preprocess", "inference", "postprocess")
        },
        "iters": len(ms),
    }


def run(args: argparse.Namespace) -> int:
    if args.iters < 1 or args.warmup < 0 or min(args.batches) < 1 or args.repeats < 1:
        log.error("--iters, --repeats and --batches must be >= 1, --warmup >= 0")
        return 2
    if args.threads != 1 and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        log.warning(
            "torch with more than one thread and OMP_WAIT_POLICY unset: on a busy machine its OpenMP"
            " workers spin and torch times can be 10-100x worse; rerun with OMP_WAIT_POLICY=PASSIVE"
            " or --threads 1"
        )
    runs = _detectors(args)
    images = _load_images()
    rows = []
    total = args.repeats * len(args.batches) * (args.iters + args.warmup) * len(runs)
    with tqdm(total=total, desc="bench detector", unit="call", disable=None) as bar:
        for repeat in range(args.repeats):
            for batch_size in args.batches:
                batch = [images[i % len(images)] for i in range(batch_size)]
                for det, (ts, stages) in zip(runs, _measure(runs, batch, args, bar)):
                    rows.append(_row(det, batch_size, repeat, ts, stages))
    ratios = _torch_vs_ort(rows)
    paired = paired_ratios(rows)
    if args.json:
        print_json(
            {
                "threads": args.threads,
                "cpu_count": os.cpu_count(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "rows": rows,
                "torch_over_onnxruntime_p50": ratios,
                "speedup_over_fp32_onnxruntime": paired,
            }
        )
        return 0
    _print_table(args, rows, ratios, paired)
    return 0


def _print_table(args: argparse.Namespace, rows: list[dict], ratios: dict, paired: dict) -> None:
    print(f"threads: {args.threads or 'library default'}; per-image = per-call / batch")
    head = (
        f"{'backend':<12} {'device':<7} {'prec':<5} {'batch':>5} {'rep':>3} {'call p50':>9} {'call p99':>9}"
    )
    print(head + f" {'img p50':>8} {'img/s':>8}  pre/inf/post p50 ms")
    for r in rows:
        st = r["stages_ms_p50"]
        print(
            f"{r['backend']:<12} {r['device']:<7} {r['precision']:<5} {r['batch']:>5} {r['repeat']:>3}"
            f" {r['call_ms_p50']:>9.2f} {r['call_ms_p99']:>9.2f}"
            f" {r['image_ms_p50']:>8.2f} {r['images_per_s']:>8.1f}"
            f"  {st['preprocess']:.2f}/{st['inference']:.2f}/{st['postprocess']:.2f}"
        )
    for key, ratio in ratios.items():
        print(f"torch / onnxruntime p50 latency, {key}: {ratio:.2f}x")
    for key, v in paired.items():
        print(
            f"speed-up over fp32 onnxruntime, {key}: median {v['median']:.2f}x (per repeat {v['per_repeat']})"
        )


def paired_ratios(rows: list[dict]) -> dict[str, dict]:
    """fp32-onnxruntime p50 / this run's p50, per repeat at the same batch, for every other run."""
    ref = {
        (r["repeat"], r["batch"]): r["call_ms_p50"]
        for r in rows
        if r["backend"] == "onnxruntime" and r["precision"] == "fp32" and r["device"] == "cpu"
    }
    per: dict[str, list[float]] = {}
    for r in rows:
        base = ref.get((r["repeat"], r["batch"]))
        if base is None or (r["backend"] == "onnxruntime" and r["precision"] == "fp32"):
            continue
        key = f"{r['backend']} {r['device']} {r['precision']} batch {r['batch']}"
        per.setdefault(key, []).append(round(base / r["call_ms_p50"], 3))
    return {k: {"median": round(float(np.median(v)), 3), "per_repeat": v} for k, v in per.items()}


def _torch_vs_ort(rows: list[dict]) -> dict[str, float]:
    """p50 call-latency ratio torch / onnxruntime per (device, precision, batch) where both ran."""
    by_key = {(r["backend"], r["device"], r["precision"], r["batch"]): r["call_ms_p50"] for r in rows}
    out = {}
    for (backend, device, precision, batch), ms in by_key.items():
        ort_ms = by_key.get(("onnxruntime", "cpu" if device == "cpu" else "cuda", precision, batch))
        if backend == "torch" and ort_ms:
            out[f"{device} {precision} batch {batch}"] = round(ms / ort_ms, 2)
    return out
