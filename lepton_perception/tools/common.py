"""Helpers shared by the CLI tools: data locations, JSON output, detector construction."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lepton_perception import paths
from lepton_perception.core.detection import DetectorConfig
from lepton_perception.paths import shared_dir

__all__ = ["add_detector_args", "default_model", "detector_config", "print_json", "shared_dir"]


def default_model() -> str:
    return str(paths.default_model())


def add_detector_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="YOLOX ONNX weights (default: shared yolox_nano.onnx)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime"])
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")


def detector_config(args: argparse.Namespace, **overrides: Any) -> DetectorConfig:
    return DetectorConfig(
        model_path=args.model or default_model(), backend=args.backend, device=args.device, **overrides
    )


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")
