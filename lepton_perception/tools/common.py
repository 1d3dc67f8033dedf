"""Helpers shared by the CLI tools: data locations, JSON output, detector construction."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from lepton_perception.core.detection import DetectorConfig


def shared_dir() -> Path:
    """``$LEPTON_SHARED`` or ``../shared`` beside the repository / current directory."""
    env = os.environ.get("LEPTON_SHARED")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    for cand in (repo.parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"):
        if cand.is_dir():
            return cand
    return repo.parent / "shared"


def default_model() -> str:
    return str(shared_dir() / "models" / "yolox_nano.onnx")


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
