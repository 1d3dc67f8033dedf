"""Where the shared data and models live (``$LEPTON_SHARED`` or ``../shared`` beside the repository)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PACKAGE = "lepton_perception"
MODEL_FILE = "yolox_nano.onnx"
MODEL_PLACES = "$LEPTON_SHARED/models, the package share or ../shared"


def shared_dir() -> Path:
    env = os.environ.get("LEPTON_SHARED")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[1]
    for cand in (repo.parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"):
        if cand.is_dir():
            return cand
    return repo.parent / "shared"


def model_candidates() -> list[Path]:
    """Where the default detector weights are looked for, in order; never the working directory."""
    out: list[Path] = []
    if env := os.environ.get("LEPTON_SHARED"):
        out.append(Path(env) / "models" / MODEL_FILE)
    # An installed package (colcon build next to ../shared) ships the model in its share directory.
    with contextlib.suppress(ImportError, LookupError):
        from ament_index_python.packages import get_package_share_directory

        out.append(Path(get_package_share_directory(PACKAGE)) / "models" / MODEL_FILE)
    out.append(Path(__file__).resolve().parents[2] / "shared" / "models" / MODEL_FILE)  # source tree
    return out


def resolve_default_model() -> str:
    """The first existing candidate; if none exists, the first one (the load error names it)."""
    candidates = model_candidates()
    return str(next((p for p in candidates if p.is_file()), candidates[0]))


def default_model() -> Path:
    """The default detector weights, for the node, ``lepton process`` and every CLI tool alike."""
    return Path(resolve_default_model())
