"""Where the shared data and models live (``$LEPTON_SHARED`` or ``../shared`` beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir() -> Path:
    env = os.environ.get("LEPTON_SHARED")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[1]
    for cand in (repo.parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"):
        if cand.is_dir():
            return cand
    return repo.parent / "shared"


def default_model() -> Path:
    return shared_dir() / "models" / "yolox_nano.onnx"
