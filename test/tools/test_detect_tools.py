"""The detector's CLI commands: detect, export, bench detector, eval detection."""

from __future__ import annotations

import json

import pytest

from lepton_perception.tools import cli
from lepton_perception.tools.common import shared_dir

IMAGE = str(shared_dir() / "data" / "images" / "mmod_cars_test_image.jpg")


def _run_json(capsys, *argv: str):
    assert cli.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_detect_json(capsys, backend):
    person = str(shared_dir() / "data" / "images" / "person.jpg")
    out = _run_json(capsys, "detect", IMAGE, person, "--backend", backend, "--json")
    assert len(out) == 2
    street = out[0]
    assert sum(o["class"] == "car" for o in street) >= 8 and sum(o["class"] == "person" for o in street) >= 1
    for o in street:
        assert set(o) >= {"class", "class_id", "category", "score", "box"}
        assert o["category"] in {"pedestrian", "cyclist", "vehicle"} and 0.3 <= o["score"] <= 1
        x1, y1, x2, y2 = o["box"]
        assert 0 <= x1 < x2 <= 928 and 0 <= y1 < y2 <= 478  # original pixels of the 928 x 478 photo
    assert any(o["category"] == "pedestrian" for o in out[1])


def test_detect_unreadable_image_fails(tmp_path):
    bad = tmp_path / "not_an_image.jpg"
    bad.write_bytes(b"nope")
    assert cli.main(["detect", str(bad), "--backend", "onnxruntime"]) == 2


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["detect", IMAGE, "--device", "cuda"], "requested but"),  # both backends refuse: one line
        (["detect", "/no/such/model/dir/x.jpg", "--model", "/no/such/model.onnx"], "/no/such/model.onnx"),
    ],
)
def test_what_cannot_run_here_is_one_error_line_and_exit_2(caplog, capsys, argv, reason):
    import torch

    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert cli.main(argv) == 2
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and reason in errors[0].getMessage()
    assert capsys.readouterr().out == ""


def test_bench_detector_skips_a_backend_whose_device_is_missing(capsys, caplog):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = ["bench", "detector", "--device", "cuda", "--iters", "1", "--warmup", "0", "--batches", "1"]
    assert cli.main([*argv, "--json"]) == 2  # nothing can run on a GPU here
    assert sum("skipped: device 'cuda' requested" in r.getMessage() for r in caplog.records) == 2


def test_export_onnx_reports_round_trip(capsys, tmp_path):
    out = _run_json(capsys, "export", "onnx", str(tmp_path / "y.onnx"), "--json")
    assert out["ok"] and out["check_batch"] == 2 and out["max_abs_diff"] < 1e-3


def test_bench_detector_bounded_run(capsys):
    out = _run_json(
        capsys,
        "bench",
        "detector",
        "--iters",
        "2",
        "--warmup",
        "0",
        "--batches",
        "1",
        "2",
        "--precision",
        "fp16",
        "fp32",
        "--repeats",
        "2",
        "--json",
    )
    rows = out["rows"]
    assert {r["repeat"] for r in rows} == {0, 1}
    assert {(r["backend"], r["batch"]) for r in rows} == {
        ("torch", 1),
        ("torch", 2),
        ("onnxruntime", 1),
        ("onnxruntime", 2),
    }
    for r in rows:
        assert r["iters"] == 2 and r["call_ms_p50"] > 0 and r["images_per_s"] > 0
        assert r["call_ms_p99"] >= r["call_ms_p50"]
        assert r["precision"] == "fp32" and set(r["stages_ms_p50"]) == {
            "preprocess",
            "inference",
            "postprocess",
        }
        assert sum(r["stages_ms_p50"].values()) <= r["call_ms_p50"] * 1.05
    assert set(out["speedup_over_fp32_onnxruntime"]) == {"torch cpu fp32 batch 1", "torch cpu fp32 batch 2"}
    assert set(out["torch_over_onnxruntime_p50"]) == {"cpu fp32 batch 1", "cpu fp32 batch 2"}


def test_eval_detection_on_pets(capsys):
    out = _run_json(capsys, "eval", "detection", "--backend", "onnxruntime", "--json")
    assert out["frames"] == 8 and out["persons"] == out["tp"] + out["fn"] == 48
    assert out["recall"] >= 0.85 and out["precision"] >= 0.8
