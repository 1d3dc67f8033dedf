"""Saving and safely loading trajectory-model weights: safetensors + JSON metadata + sha256.

A model ``NAME`` is three files in one folder: ``NAME.safetensors`` (tensors only, no pickle),
``NAME.json`` (``{"model": TrajectoryModelConfig fields, ...training/eval metadata}``) and
``NAME.sha256`` (hex digest of the safetensors file). Loading verifies the digest before reading.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from lepton_perception.core.prediction.model import TrajectoryGRU, TrajectoryModelConfig

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
RUNTIME_MODEL = "predictor_all"  # trained on the train splits of all five scenes


def eval_model_name(scene: str) -> str:
    """The leave-one-scene-out model whose test scene is ``scene``."""
    return f"predictor_loo_{scene}"


class WeightsError(RuntimeError):
    """Missing, corrupt or mismatching model files."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def model_paths(name: str, directory: Path = MODELS_DIR) -> tuple[Path, Path, Path]:
    d = Path(directory)
    return d / f"{name}.safetensors", d / f"{name}.json", d / f"{name}.sha256"


def save_model(model: TrajectoryGRU, name: str, directory: Path, meta: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    st, js, sha = model_paths(name, directory)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(st))
    js.write_text(json.dumps({"model": model.config.to_dict(), **meta}, indent=2, sort_keys=True) + "\n")
    sha.write_text(f"{_sha256(st)}  {st.name}\n")
    return st


def read_meta(name: str, directory: Path = MODELS_DIR) -> dict[str, Any]:
    _, js, _ = model_paths(name, directory)
    if not js.is_file():
        raise WeightsError(f"model metadata {js} is missing")
    try:
        meta: dict[str, Any] = json.loads(js.read_text())
    except json.JSONDecodeError as exc:
        raise WeightsError(f"model metadata {js} is not valid JSON: {exc}") from exc
    if not isinstance(meta.get("model"), dict):
        raise WeightsError(f"model metadata {js} has no 'model' config")
    return meta


def load_model(
    name: str = RUNTIME_MODEL, directory: Path = MODELS_DIR, device: str | torch.device = "cpu"
) -> tuple[TrajectoryGRU, dict[str, Any]]:
    """The model in eval mode and its metadata; raises WeightsError with the reason on any problem."""
    st, _, sha = model_paths(name, directory)
    for p in (st, sha):
        if not p.is_file():
            raise WeightsError(f"model file {p} is missing (expected {name}.safetensors/.json/.sha256)")
    meta = read_meta(name, directory)
    expected = sha.read_text().split()[0].strip().lower() if sha.read_text().strip() else ""
    actual = _sha256(st)
    if expected != actual:
        raise WeightsError(f"checksum mismatch for {st}: file {actual}, recorded {expected or '(empty)'}")
    try:
        config = TrajectoryModelConfig.from_dict(meta["model"])
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"bad model config in {name}.json: {exc}") from exc
    model = TrajectoryGRU(config)
    try:
        tensors = load_file(str(st), device="cpu")
        model.load_state_dict(tensors, strict=True)
    except Exception as exc:  # safetensors raises its own SafetensorError on corrupt files
        raise WeightsError(f"cannot load weights {st}: {exc}") from exc
    model.to(device).eval()
    return model, meta
