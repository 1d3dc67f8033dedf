"""``lepton quantize``: build (or find) the cached int8 detector model.

The detector builds the same file on first use with ``detector.precision: int8``; this command does it
ahead of time (e.g. while installing a vehicle) and prints where it is and what went into its key.
Options other than the defaults give a differently keyed file, for experiments; the detector itself
always uses the default settings (``QuantSettings()``, docs/detector.md says why).

``--profile-runs N`` then profiles, per kind of operator, the fp32 model, the fully quantised model (same
settings, nothing kept float; built too) and the chosen one, interleaved (``quantize_profile.py``), and
prints the best any mix of fp32 and int8 kernels could reach (docs/detector.md, "int8").
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from lepton_perception.tools.common import default_model, print_json

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from lepton_perception.core.detection.quantize import FP32_ROLES, QuantSettings

    d = QuantSettings()  # the detector's settings are the defaults here

    p = sub.add_parser("quantize", help="build the cached int8 (static, QDQ) detector model")
    p.add_argument("--model", default=None, help="fp32 YOLOX ONNX (default: shared yolox_nano.onnx)")
    p.add_argument("--size", type=int, default=416, help="network input, px")
    p.add_argument("--format", default=d.quant_format, choices=["qdq", "qoperator"])
    p.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor, not per channel")
    p.add_argument("--reduce-range", action="store_true", help="7-bit weights (CPUs without VNNI)")
    p.add_argument("--calibration", default=d.calibration, choices=["minmax", "entropy", "percentile"])
    p.add_argument("--percentile", type=float, default=d.percentile, help="percentile calibration, %%")
    p.add_argument(
        "--keep-fp32",
        nargs="*",
        default=list(d.keep_fp32),
        choices=FP32_ROLES,
        help="graph parts left in float",
    )
    p.add_argument("--video-frames", type=int, default=None, help="calibration frames from the video")
    p.add_argument("--cache-dir", default="", help="default: $XDG_CACHE_HOME/lepton_perception/int8")
    p.add_argument("--rebuild", action="store_true", help="quantise even if the cached file exists")
    p.add_argument(
        "--profile-runs", type=int, default=0, help="then profile fp32 / all-int8 / this model (1 thread)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> Any:
    from lepton_perception.core.detection.quantize import QuantSettings

    return QuantSettings(
        quant_format=args.format,
        per_channel=not args.per_tensor,
        reduce_range=args.reduce_range,
        calibration=args.calibration,
        percentile=args.percentile,
        keep_fp32=tuple(args.keep_fp32),
    )


def _build(args: argparse.Namespace, settings: Any) -> Any:
    from lepton_perception.core.detection.quantize import CalibrationSet, ensure_int8_model

    calib = CalibrationSet() if args.video_frames is None else CalibrationSet(video_frames=args.video_frames)
    return ensure_int8_model(
        args.model or default_model(),
        args.size,
        calib=calib,
        settings=settings,
        cache_dir=args.cache_dir,
        rebuild=args.rebuild,
    )


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        model = _build(args, settings)
        profile = _profile(args, settings, model.path) if args.profile_runs > 0 else None
    except (OSError, ValueError) as exc:
        log.error("cannot quantise: %s", exc)
        return 2
    manifest = json.loads(model.path.with_suffix(".json").read_text())
    if args.json:
        print_json({"path": str(model.path), "built": model.built, **manifest, "profile": profile})
        return 0
    print(f"{'built' if model.built else 'cached'}: {model.path}")
    print(f"key {model.key}: settings {manifest['settings']}, onnxruntime {manifest['onnxruntime']}")
    if profile is not None:
        print("\n".join(profile["table"]))
    return 0


def _profile(args: argparse.Namespace, settings: Any, int8_path: Path) -> dict[str, Any]:
    """Kernel ms per category of fp32, fully quantised and ``settings``' model, and the mix bound."""
    import onnx

    from lepton_perception.core.detection.onnx_backend import make_batch_dynamic
    from lepton_perception.tools import quantize_profile as qp

    fp32 = onnx.load(str(args.model or default_model()))
    dyn = make_batch_dynamic(fp32) or fp32
    all_int8 = _build(args, replace(settings, keep_fp32=()))
    models: dict[str, str | bytes] = {
        "fp32": dyn.SerializeToString(),
        "int8, all quantised": str(all_int8.path),
        "int8, these settings": str(int8_path),
    }
    res = qp.profile(models, qp.conv_roles(fp32), args.size, args.profile_runs)
    res["bound: faster of fp32 / all-int8, conversions free"] = qp.bound(
        res["fp32"], res["int8, all quantised"]
    )
    return {"runs": args.profile_runs, "kernel_ms": res, "table": qp.table(res, list(res))}
