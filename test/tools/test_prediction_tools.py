"""The prediction CLI commands end to end on the shipped weights (small settings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lepton_perception.tools.cli import main


def test_eval_prediction_json_one_scene(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["eval", "prediction", "--scene", "zara1", "--json", "--plots", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    z = out["scenes"]["zara1"]
    assert set(out) == {"scenes", "average"} and set(out["scenes"]) == {"zara1"}
    assert set(z) == {"lepton", "cv"} and set(z["lepton"]) == {"ADE", "FDE"}
    assert z["cv"] == {"ADE": pytest.approx(0.4313, abs=1e-3), "FDE": pytest.approx(0.9604, abs=1e-3)}
    assert out["average"]["lepton"] == z["lepton"]
    assert z["lepton"]["ADE"] < z["cv"]["ADE"]
    assert (tmp_path / "prediction_samples.png").stat().st_size > 10_000
    assert (tmp_path / "prediction_ade_fde.png").stat().st_size > 10_000


def test_eval_prediction_missing_weights_is_an_error(tmp_path: Path) -> None:
    assert main(["eval", "prediction", "--scene", "eth", "--models", str(tmp_path)]) == 2


def test_bench_predictor_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "bench",
        "predictor",
        "--agents",
        "20",
        "--iters",
        "10",
        "--warmup",
        "2",
        "--threads",
        "1",
        "--json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agents"] == 20 and out["paths_by_predictor"] == {"rnn": 20}
    assert out["results"][0]["model"]["p50_ms"] > 0


def test_train_predictor_tiny_run_is_deterministic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for sub in ("a", "b"):
        args = [
            "train",
            "predictor",
            "--scene",
            "hotel",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / sub),
            "--checkpoint-dir",
            str(tmp_path / f"checkpoints_{sub}"),
            "--json",
        ]
        assert main(args) == 0
    capsys.readouterr()
    a = (tmp_path / "a" / "predictor_loo_hotel.sha256").read_text().split()[0]
    b = (tmp_path / "b" / "predictor_loo_hotel.sha256").read_text().split()[0]
    assert a == b
