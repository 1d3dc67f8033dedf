"""Safe weight files: round trip, checksum and clear errors; shipped models give their recorded ADE."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lepton_perception.core.prediction import data as td
from lepton_perception.core.prediction.model import TrajectoryGRU, TrajectoryModelConfig
from lepton_perception.core.prediction.training import evaluate
from lepton_perception.core.prediction.weights import (
    MODELS_DIR,
    RUNTIME_MODEL,
    WeightsError,
    eval_model_name,
    load_model,
    model_paths,
    read_meta,
    save_model,
)
from lepton_perception.tools.common import shared_dir


def _saved(tmp_path: Path) -> TrajectoryGRU:
    torch.manual_seed(0)
    model = TrajectoryGRU(TrajectoryModelConfig(hidden_dim=16, embed_dim=8, decoder_hidden_dim=16))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    save_model(model, "m", tmp_path, {"note": "test"})
    return model


def test_round_trip(tmp_path: Path) -> None:
    model = _saved(tmp_path)
    loaded, meta = load_model("m", tmp_path)
    assert meta["note"] == "test" and loaded.config == model.config
    x = torch.randn(4, 8, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model.eval()(x))


def test_corrupt_file_fails_the_checksum(tmp_path: Path) -> None:
    _saved(tmp_path)
    st, _, _ = model_paths("m", tmp_path)
    raw = bytearray(st.read_bytes())
    raw[-1] ^= 0xFF
    st.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_model("m", tmp_path)


@pytest.mark.parametrize("suffix", [".safetensors", ".json", ".sha256"])
def test_missing_file_is_a_clear_error(tmp_path: Path, suffix: str) -> None:
    _saved(tmp_path)
    (tmp_path / f"m{suffix}").unlink()
    with pytest.raises(WeightsError, match="missing"):
        load_model("m", tmp_path)


def test_shipped_files_are_present_and_small() -> None:
    for name in [RUNTIME_MODEL, *(eval_model_name(s) for s in td.SCENES)]:
        st, js, sha = model_paths(name, MODELS_DIR)
        assert js.is_file() and sha.is_file()
        assert st.stat().st_size < 256_000  # about 211 KB of float32 tensors
        load_model(name)


@pytest.mark.parametrize("scene", ["zara1", "hotel"])
def test_shipped_leave_one_out_model_gives_its_recorded_test_ade(scene: str) -> None:
    """Metric regression: the shipped weights reproduce the ADE/FDE recorded when they were trained."""
    model, meta = load_model(eval_model_name(scene))
    windows = td.WindowConfig(
        max_neighbours=model.config.max_neighbours, neighbour_radius_m=model.config.neighbour_radius_m
    )
    te, nb = td.load_windows_and_neighbours(
        td.scene_files(shared_dir() / "data" / "trajectories", scene, "test"), windows
    )
    ade, fde = evaluate(model, te, nb)
    assert ade == pytest.approx(meta["test_ade_m"], abs=2e-3)
    assert fde == pytest.approx(meta["test_fde_m"], abs=4e-3)
    cv_ade, cv_fde = td.ade_fde(td.constant_velocity(te[:, :8]), te[:, 8:])
    assert ade < cv_ade and fde < cv_fde
    assert read_meta(eval_model_name(scene))["trained_on"].endswith(scene)
