"""``lepton bench report`` renders what the benches give: tables, plots, node stages or their absence."""

from __future__ import annotations

import argparse
import copy

import pytest

from lepton_perception.tools.bench_report import Bench, Report, execute, plan
from lepton_perception.tools.bench_report_render import (
    markdown,
    node_stages,
    plots,
    report_from_json,
    report_to_json,
)


def _row(backend, precision, batch, repeat, ms):
    return {
        "backend": backend,
        "device": "cpu",
        "precision": precision,
        "batch": batch,
        "repeat": repeat,
        "call_ms_p50": ms,
        "call_ms_p99": ms * 1.5,
        "image_ms_p50": ms / batch,
        "image_ms_p99": ms * 1.5 / batch,
        "images_per_s": 1000.0 * batch / ms,
        "stages_ms_p50": {"preprocess": 1.0, "inference": ms - 3.0, "postprocess": 2.0},
        "iters": 20,
    }


DETECTOR = {
    "threads": 0,
    "cpu_count": 2,
    "load_avg_1m": 3.0,
    "rows": [
        _row(b, p, n, r, ms * n * (1 + 0.1 * r))
        for r in range(2)
        for n in (1, 4)
        for b, p, ms in (
            ("torch", "fp32", 30.0),
            ("onnxruntime", "fp32", 20.0),
            ("onnxruntime", "int8", 12.0),
        )
    ],
    "speedup_over_fp32_onnxruntime": {
        "onnxruntime cpu int8 batch 1": {"median": 1.667, "per_repeat": [1.667, 1.667]},
        "torch cpu fp32 batch 1": {"median": 0.667, "per_repeat": [0.667, 0.667]},
    },
}
ACCURACY = {
    "detector_precision": "int8",
    "precision": 0.9,
    "recall": 0.8,
    "tp": 40,
    "fp": 4,
    "fn": 10,
    "frames": 8,
    "persons": 50,
    "threshold": 0.3,
    "iou": 0.5,
    "compare": {
        "reference": {
            "detector_precision": "fp32",
            "precision": 0.91,
            "recall": 0.81,
            "tp": 41,
            "fp": 4,
            "fn": 9,
        },
        "box_agreement": 0.95,
        "matched_boxes": 95,
        "reference_boxes": 100,
        "extra_boxes": 3,
        "agreement_iou": 0.7,
        "agreement_images": 10,
    },
}
NODE = {
    "per_camera": {
        "/cam0": {
            "processed_hz": 25.0,
            "latency_ms_p50": 40.0,
            "latency_ms_p95": 60.0,
            "cycle_ms_p50": 35.0,
            "stages_ms_p50": {
                "convert": 1.0,
                "preprocess": 2.0,
                "inference": 25.0,
                "track": 1.5,
                "publish": 0.5,
            },
        }
    }
}


def _report(node: dict | None, node_error: str = "") -> Report:
    benches = {
        "detector": Bench("detector", ["bench", "detector", "--json"], copy.deepcopy(DETECTOR)),
        "accuracy": Bench("accuracy", ["eval", "detection", "--json"], copy.deepcopy(ACCURACY)),
        "node": Bench("node", ["bench", "node", "--json"], node, node_error),
    }
    return Report(
        benches, {"cpu": "test cpu", "cpu_count": 2, "onnxruntime_providers": ["CPUExecutionProvider"]}
    )


def test_report_with_node_stages_tables_and_plots_every_stage(tmp_path):
    report = _report(copy.deepcopy(NODE))
    made = plots(report, tmp_path / "img")
    assert set(made) == {"throughput", "detector_stages", "speedup", "node_stages"}
    for path in made.values():
        assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"
    text = markdown(report, made, tmp_path)
    for stage in ("convert", "preprocess", "inference", "track", "publish"):
        assert stage in text
    assert "![node cycle by stage](img/bench_node_stages.png)" in text
    assert "| onnxruntime | cpu | int8 | 1 | 12.6 |" in text  # median of the two repeats (12.0, 13.2)
    assert "1.67x" in text and "Box agreement: 0.9500 (95 of 100" in text
    assert "batch 1: 1.67x (median of 2 paired repeats; target >= 1.8x): **not met**" in text
    assert "PETS person precision: int8 0.900 vs fp32 0.910 (-0.010; target within 0.02): **met**" in text
    assert "box agreement: 0.9500 (target >= 0.95): **met**" in text
    assert "**GPU:** no figures" in text
    # NODE: cycle 35 ms, inference 25 ms, share not reported by the bench: no node line; with it, one.
    assert "outside inference (cycle" not in text
    node = copy.deepcopy(NODE)
    node["per_camera"]["/cam0"]["outside_inference_pct"] = 28.6
    text = markdown(_report(node), made, tmp_path)
    line = "28.6 % of the cycle outside inference (cycle 35.0 ms, inference 25.0 ms; target <= 15 %)"
    assert f"{line}: **not met**" in text


def test_report_without_node_bench_says_so(tmp_path):
    report = _report(None, "exit 2: invalid choice: 'node'")
    made = plots(report, tmp_path)
    assert "node_stages" not in made
    text = markdown(report, made, tmp_path)
    assert "`lepton bench node --json` gave no result: exit 2: invalid choice: 'node'." in text


def test_node_json_without_stages_is_tolerated(tmp_path):
    node = copy.deepcopy(NODE)
    del node["per_camera"]["/cam0"]["stages_ms_p50"]
    assert node_stages(node) == {}
    report = _report(node)
    text = markdown(report, plots(report, tmp_path), tmp_path)
    assert "no per-stage breakdown" in text and "| /cam0 | 25.0 |" in text


def test_json_round_trip_renders_the_same(tmp_path):
    report = _report(copy.deepcopy(NODE))
    again = report_from_json(report_to_json(report))
    made = plots(report, tmp_path)
    assert markdown(again, made, tmp_path) == markdown(report, made, tmp_path)


def test_plan_skips_and_a_failing_bench_is_recorded():
    args = argparse.Namespace(skip=["node", "accuracy"], repeats=2, iters=5, threads=1, node_duration_s=5.0)
    keys = [b.key for b in plan(args)]
    assert keys == ["detector", "tracker", "predictor"]
    assert "--repeats 2" in plan(args)[0].command
    bad = Bench("node", ["bench", "no-such-bench", "--json"])
    execute(bad)
    assert bad.result is None and bad.error.startswith("exit 2")


@pytest.mark.parametrize("missing", ["detector", "accuracy"])
def test_missing_results_leave_a_readable_report(missing, tmp_path):
    report = _report(copy.deepcopy(NODE))
    report.benches[missing].result = None
    report.benches[missing].error = "exit 1: boom"
    text = markdown(report, plots(report, tmp_path), tmp_path)
    assert "exit 1: boom" in text


def _node_with_cameras(n: int, cycle_ms: float) -> dict:
    cams = {
        f"/cam{k}": {**copy.deepcopy(NODE["per_camera"]["/cam0"]), "cycle_ms_p50": cycle_ms} for k in range(n)
    }
    return {"per_camera": cams}


def test_more_cameras_are_planned_on_request_and_skipped_with_the_node():
    base = {"repeats": 1, "iters": 5, "threads": 0, "node_duration_s": 5.0}
    args = argparse.Namespace(skip=[], node_cameras=[4, 1, 2], **base)
    node_runs = [b for b in plan(args) if b.key.startswith("node")]
    assert [b.key for b in node_runs] == ["node", "node_2cams", "node_4cams"]
    assert "--cameras 4 --size 1280x720" in node_runs[2].command
    assert not [
        b for b in plan(argparse.Namespace(skip=["node"], node_cameras=[1, 2], **base)) if "node" in b.key
    ]


def test_report_tables_every_camera_count_that_ran(tmp_path):
    report = _report(copy.deepcopy(NODE))
    report.benches["node"].argv = ["bench", "node", "--json", "--cameras", "1"]
    report.benches["node_4cams"] = Bench(
        "node_4cams", ["bench", "node", "--json", "--cameras", "4"], _node_with_cameras(4, 80.0)
    )
    report.benches["node_2cams"] = Bench(
        "node_2cams", ["bench", "node", "--json", "--cameras", "2"], None, "exit 1: boom"
    )
    text = markdown(report, plots(report, tmp_path), tmp_path)
    section = text[text.index("### Node with more cameras") :]
    lines = [ln for ln in section.splitlines() if ln.startswith("| ")][1:]  # rows after the header
    assert [ln.split(" | ")[:2] for ln in lines] == [
        ["| 1", "/cam0"],
        ["| 2", "no result: exit 1: boom"],
        *[["| 4", f"/cam{k}"] for k in range(4)],
    ]
    assert all(" | 80.0 | 25.0 |" in ln for ln in lines[2:])  # cycle and inference per 4-camera batch
    assert "### Node with more cameras" not in markdown(_report(copy.deepcopy(NODE)), {}, tmp_path)
