"""``lepton bench detector``: latency and throughput of each detector backend, side by side.

All backends run in one process on the same images, interleaved call by call (torch, onnxruntime,
torch, ...), so a load change on the machine hits them alike. Times are end to end ``detect()``
calls: letterbox, upload, network, decode, NMS and boxes back in image pixels. The batch is made of
the shared street/test photos (different sizes, as from several cameras), repeated to the batch size.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import replace

import cv2
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from lepton_perception.core.detection import Detector, DetectorConfig
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
        default=["fp16", "fp32"],
        choices=["fp16", "fp32"],
        help="fp16: torch on CUDA, onnxruntime with TensorRT; fp32 otherwise",
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


def run(args: argparse.Namespace) -> int:
    if args.iters < 1 or args.warmup < 0 or min(args.batches) < 1:
        log.error("--iters and --batches must be >= 1, --warmup >= 0")
        return 2
    if args.threads != 1 and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        log.warning(
            "torch with more than one thread and OMP_WAIT_POLICY unset: on a busy machine its OpenMP"
            " workers spin and torch times can be 10-100x worse; rerun with OMP_WAIT_POLICY=PASSIVE"
            " or --threads 1"
        )
    base = DetectorConfig(
        model_path=args.model or default_model(),
        device=args.device,
        cpu_threads=args.threads,
        max_batch=max(args.batches),
    )
    runs: list[tuple[str, Detector]] = []
    for backend in args.backends:
        fp32 = _build(backend, replace(base, fp16=False))
        # fp16 exists for torch on CUDA and for onnxruntime's TensorRT provider; elsewhere only fp32 runs.
        fp16_possible = fp32.device != "cpu" and (backend == "torch" or _has_tensorrt(fp32))
        if "fp32" in args.precision or not fp16_possible:
            runs.append(("fp32", fp32))
        if "fp16" in args.precision and fp16_possible:
            runs.append(("fp16", _build(backend, replace(base, fp16=True))))
    images = _load_images()
    rows = []
    total = len(args.batches) * (args.iters + args.warmup) * len(runs)
    with tqdm(total=total, desc="bench detector", unit="call", disable=None) as bar:
        for batch_size in args.batches:
            batch = [images[i % len(images)] for i in range(batch_size)]
            times: list[list[float]] = [[] for _ in runs]
            for it in range(args.warmup + args.iters):
                for k, (_, det) in enumerate(runs):
                    t0 = time.perf_counter()
                    det.detect(batch)
                    dt = time.perf_counter() - t0
                    if it >= args.warmup:
                        times[k].append(dt)
                    bar.update()
            for (precision, det), ts in zip(runs, times):
                ms = np.asarray(ts) * 1e3
                rows.append(
                    {
                        "backend": det.name,
                        "device": det.device,
                        "precision": precision,
                        "batch": batch_size,
                        "call_ms_p50": round(float(np.percentile(ms, 50)), 2),
                        "call_ms_p99": round(float(np.percentile(ms, 99)), 2),
                        "image_ms_p50": round(float(np.percentile(ms, 50)) / batch_size, 2),
                        "image_ms_p99": round(float(np.percentile(ms, 99)) / batch_size, 2),
                        "images_per_s": round(batch_size * len(ms) / (ms.sum() / 1e3), 1),
                        "iters": len(ms),
                    }
                )
    ratios = _torch_vs_ort(rows)
    if args.json:
        print_json({"threads": args.threads, "rows": rows, "torch_over_onnxruntime_p50": ratios})
        return 0
    print(f"threads: {args.threads or 'library default'}; per-image = per-call / batch")
    head = f"{'backend':<12} {'device':<7} {'prec':<5} {'batch':>5} {'call p50':>9} {'call p99':>9}"
    print(head + f" {'img p50':>8} {'img p99':>8} {'img/s':>8}")
    for r in rows:
        print(
            f"{r['backend']:<12} {r['device']:<7} {r['precision']:<5} {r['batch']:>5}"
            f" {r['call_ms_p50']:>9.2f} {r['call_ms_p99']:>9.2f}"
            f" {r['image_ms_p50']:>8.2f} {r['image_ms_p99']:>8.2f} {r['images_per_s']:>8.1f}"
        )
    for key, ratio in ratios.items():
        print(f"torch / onnxruntime p50 latency, {key}: {ratio:.2f}x")
    return 0


def _torch_vs_ort(rows: list[dict]) -> dict[str, float]:
    """p50 call-latency ratio torch / onnxruntime per (device, precision, batch) where both ran."""
    by_key = {(r["backend"], r["device"], r["precision"], r["batch"]): r["call_ms_p50"] for r in rows}
    out = {}
    for (backend, device, precision, batch), ms in by_key.items():
        ort_ms = by_key.get(("onnxruntime", "cpu" if device == "cpu" else "cuda", precision, batch))
        if backend == "torch" and ort_ms:
            out[f"{device} {precision} batch {batch}"] = round(ms / ort_ms, 2)
    return out
