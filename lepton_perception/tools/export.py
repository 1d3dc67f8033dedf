"""``lepton export {torchscript,onnx} OUT``: export the torch YOLOX network and check the round trip."""

from __future__ import annotations

import argparse
import logging

from lepton_perception.core.detection.export import (
    check_onnx,
    check_torchscript,
    export_onnx,
    export_torchscript,
)
from lepton_perception.core.detection.weights import load_yolox_from_onnx
from lepton_perception.tools.common import default_model, print_json

log = logging.getLogger(__name__)

MAX_DIFF = 1e-3  # largest |exported - torch| accepted on the raw head output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the torch detector to TorchScript or ONNX (dynamic batch)")
    p.add_argument("format", choices=["torchscript", "onnx"])
    p.add_argument("output", help="file to write (.pt for TorchScript, .onnx for ONNX)")
    p.add_argument(
        "--model", default=None, help="YOLOX ONNX weights to load (default: shared yolox_nano.onnx)"
    )
    p.add_argument("--input-size", type=int, default=416, help="square network input, px (multiple of 32)")
    p.add_argument("--check-batch", type=int, default=2, help="batch size of the round-trip check")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = load_yolox_from_onnx(args.model or default_model())
    if args.format == "torchscript":
        path = export_torchscript(model, args.output, args.input_size)
        check = check_torchscript(model, path, args.input_size, args.check_batch)
    else:
        path = export_onnx(model, args.output, args.input_size)
        check = check_onnx(model, path, args.input_size, args.check_batch)
    ok = check.max_abs_diff <= MAX_DIFF
    result = {
        "format": args.format,
        "path": str(path),
        "check_batch": check.batch,
        "max_abs_diff": check.max_abs_diff,
        "ok": ok,
    }
    if args.json:
        print_json(result)
    else:
        verdict = "ok" if ok else f"FAILED (> {MAX_DIFF})"
        print(
            f"wrote {path}; round trip at batch {check.batch}: max |diff| {check.max_abs_diff:.2e} {verdict}"
        )
    return 0 if ok else 1
