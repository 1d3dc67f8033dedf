"""Tables and plots of ``lepton bench report`` from the benches' JSON (no benchmarking here).

Pure functions of the results: the same results give the same markdown, so the report can be
re-rendered from a saved results file (``--from-json``) and tested with given inputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from lepton_perception.tools.bench_report import Bench, Report

STAGES = ("preprocess", "inference", "postprocess")


def report_to_json(report: Report) -> dict[str, Any]:
    return {
        "machine": report.machine,
        "benches": {
            k: {"argv": b.argv, "result": b.result, "error": b.error, "seconds": b.seconds}
            for k, b in report.benches.items()
        },
    }


def report_from_json(data: dict[str, Any]) -> Report:
    benches = {
        k: Bench(k, v["argv"], v.get("result"), v.get("error", ""), v.get("seconds", 0.0))
        for k, v in data["benches"].items()
    }
    return Report(benches, data.get("machine", {}))


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _label(r: dict[str, Any]) -> str:
    return f"{r['backend']} {r['device']} {r['precision']}"


def _mean_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (backend, device, precision, batch): medians over repeats."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["backend"], r["device"], r["precision"], r["batch"]), []).append(r)
    out = []
    for (backend, device, precision, batch), rs in groups.items():
        out.append(
            {
                "backend": backend,
                "device": device,
                "precision": precision,
                "batch": batch,
                "repeats": len(rs),
                "call_ms_p50": float(np.median([r["call_ms_p50"] for r in rs])),
                "call_ms_p99": float(np.median([r["call_ms_p99"] for r in rs])),
                "image_ms_p50": float(np.median([r["image_ms_p50"] for r in rs])),
                "images_per_s": float(np.median([r["images_per_s"] for r in rs])),
                "stages_ms_p50": {
                    s: float(np.median([r.get("stages_ms_p50", {}).get(s, np.nan) for r in rs]))
                    for s in STAGES
                },
            }
        )
    return out


def node_stages(node: dict[str, Any] | None) -> dict[str, dict[str, float]]:
    """camera -> {stage: ms} from the node bench's per-camera ``stages_ms_p50`` (empty when absent)."""
    if not node:
        return {}
    return {
        cam: {str(k): float(v) for k, v in r["stages_ms_p50"].items()}
        for cam, r in node.get("per_camera", {}).items()
        if isinstance(r.get("stages_ms_p50"), dict) and r["stages_ms_p50"]
    }


def plots(report: Report, img_dir: Path) -> dict[str, Path]:
    """Write the PNGs the results allow; name -> path."""
    out: dict[str, Path] = {}
    img_dir.mkdir(parents=True, exist_ok=True)
    det = report.get("detector")
    if det and det.get("rows"):
        rows = _mean_rows(det["rows"])
        out["throughput"] = _plot_throughput(rows, img_dir / "bench_throughput.png")
        out["detector_stages"] = _plot_detector_stages(rows, img_dir / "bench_detector_stages.png")
        if det.get("speedup_over_fp32_onnxruntime"):
            out["speedup"] = _plot_speedup(
                det["speedup_over_fp32_onnxruntime"], img_dir / "bench_int8_vs_fp32.png"
            )
    stages = node_stages(report.get("node"))
    if stages:
        out["node_stages"] = _plot_node_stages(stages, img_dir / "bench_node_stages.png")
    return out


def _plot_throughput(rows: list[dict[str, Any]], path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label in sorted({_label(r) for r in rows}):
        rs = sorted((r for r in rows if _label(r) == label), key=lambda r: r["batch"])
        ax.plot([r["batch"] for r in rs], [r["images_per_s"] for r in rs], marker="o", label=label)
    ax.set_xlabel("batch (images per call)")
    ax.set_ylabel("images / s (median of repeats)")
    ax.set_title("Detector throughput by batch and backend")
    ax.set_xticks(sorted({r["batch"] for r in rows}))
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(plt, fig, path)


def _stacked(ax: Any, labels: list[str], stages: list[dict[str, float]], names: list[str]) -> None:
    bottom = np.zeros(len(labels))
    for name in names:
        vals = np.array([s.get(name, 0.0) for s in stages])
        vals = np.nan_to_num(vals)
        ax.barh(labels, vals, left=bottom, label=name)
        bottom += vals
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)


def _plot_detector_stages(rows: list[dict[str, Any]], path: Path) -> Path:
    plt = _plt()
    b1 = sorted((r for r in rows if r["batch"] == 1), key=_label)
    fig, ax = plt.subplots(figsize=(6.4, 0.6 * len(b1) + 1.6))
    _stacked(ax, [_label(r) for r in b1], [r["stages_ms_p50"] for r in b1], list(STAGES))
    ax.set_xlabel("ms per call, batch 1 (stage medians)")
    ax.set_title("Detector latency by stage")
    return _save(plt, fig, path)


def _plot_speedup(speedup: dict[str, dict[str, Any]], path: Path) -> Path:
    plt = _plt()
    keys = sorted(speedup)
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(keys) + 1.6))
    med = [speedup[k]["median"] for k in keys]
    ax.barh(keys, med, color=["tab:green" if "int8" in k else "tab:gray" for k in keys])
    for i, k in enumerate(keys):
        ax.plot(speedup[k]["per_repeat"], [i] * len(speedup[k]["per_repeat"]), "k.", ms=4)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.axvline(1.8, color="tab:red", lw=0.8, ls="--", label="1.8x target (int8, batch 1)")
    ax.set_xlabel("fp32 onnxruntime p50 / run p50 (dots: repeats)")
    ax.set_title("int8 and torch vs fp32 onnxruntime, paired")
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def _plot_node_stages(stages: dict[str, dict[str, float]], path: Path) -> Path:
    plt = _plt()
    names: list[str] = []
    for s in stages.values():
        names += [k for k in s if k not in names]
    fig, ax = plt.subplots(figsize=(6.4, 0.6 * len(stages) + 1.8))
    _stacked(ax, list(stages), list(stages.values()), names)
    ax.set_xlabel("ms per cycle (stage medians)")
    ax.set_title("Node cycle by stage")
    return _save(plt, fig, path)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _img(name: str, plots_: dict[str, Path], base: Path, alt: str) -> str:
    return f"![{alt}]({os.path.relpath(plots_[name], base)})" if name in plots_ else ""


def _detector_section(report: Report, plots_: dict[str, Path], base: Path) -> list[str]:
    det = report.get("detector")
    if not det:
        return ["## Detector", "", _failed(report, "detector")]
    rows = sorted(_mean_rows(det["rows"]), key=lambda r: (r["batch"], _label(r)))
    out = [
        "## Detector",
        "",
        f"`{report.benches['detector'].command}` (threads: {det.get('threads') or 'library default'},"
        f" {det.get('cpu_count')} CPUs, 1-min load average {det.get('load_avg_1m')} at the end). Every run"
        " is interleaved call by call with the others; figures are medians over the repeats. One call ="
        " uint8 BGR images in -> boxes in image pixels out (letterbox, network, decode, NMS).",
        "",
        _table(
            [
                "backend",
                "device",
                "precision",
                "batch",
                "call p50 ms",
                "call p99 ms",
                "image p50 ms",
                "images/s",
            ]
            + [f"{s} p50 ms" for s in STAGES],
            [
                [r["backend"], r["device"], r["precision"], r["batch"], f"{r['call_ms_p50']:.1f}"]
                + [f"{r['call_ms_p99']:.1f}", f"{r['image_ms_p50']:.1f}", f"{r['images_per_s']:.1f}"]
                + [f"{r['stages_ms_p50'][s]:.2f}" for s in STAGES]
                for r in rows
            ],
        ),
        "",
        _img("throughput", plots_, base, "throughput by batch and backend"),
        "",
        _img("detector_stages", plots_, base, "detector latency by stage"),
        "",
    ]
    speed = det.get("speedup_over_fp32_onnxruntime") or {}
    if speed:
        out += [
            "### Paired speed-up over fp32 onnxruntime",
            "",
            "Ratio fp32-onnxruntime p50 / run p50, within each repeat (same load), then the median.",
            "",
            _table(
                ["run", "median", "per repeat"],
                [
                    [k, f"{v['median']:.2f}x", ", ".join(f"{x:.2f}" for x in v["per_repeat"])]
                    for k, v in speed.items()
                ],
            ),
            "",
            _img("speedup", plots_, base, "int8 vs fp32"),
            "",
        ]
    if not any(r["device"] != "cpu" for r in rows):
        out += [
            "**GPU:** no figures. This run saw no CUDA device (the machine that generated this file has"
            " none, and no GPU machine was available to this work); torch fp16, onnxruntime CUDA and"
            " TensorRT rows appear here when the report runs on a machine with one.",
            "",
        ]
    return out


def _accuracy_section(report: Report) -> list[str]:
    acc = report.get("accuracy")
    if not acc:
        return ["## int8 accuracy", "", _failed(report, "accuracy")]
    c = acc.get("compare", {})
    ref = c.get("reference", {})
    rows = [
        [
            acc["detector_precision"],
            f"{acc['precision']:.3f}",
            f"{acc['recall']:.3f}",
            acc["tp"],
            acc["fp"],
            acc["fn"],
        ]
    ]
    if ref:
        rows.append(
            [
                ref["detector_precision"],
                f"{ref['precision']:.3f}",
                f"{ref['recall']:.3f}",
                ref["tp"],
                ref["fp"],
                ref["fn"],
            ]
        )
    out = [
        "## int8 accuracy",
        "",
        f"`{report.benches['accuracy'].command}`: person precision / recall on the {acc['frames']}"
        f" hand-checked PETS frames ({acc['persons']} people, score >= {acc['threshold']},"
        f" IoU {acc['iou']}).",
        "",
        _table(["precision", "person precision", "person recall", "TP", "FP", "FN"], rows),
        "",
    ]
    if c:
        out += [
            f"Box agreement: {c['matched_boxes'] / max(c['reference_boxes'], 1):.4f} ({c['matched_boxes']} of"
            f" {c['reference_boxes']}"
            f" fp32 boxes reproduced with the same class at IoU >= {c['agreement_iou']}, over"
            f" {c['agreement_images']} images: the shared stills and every 4th PETS frame;"
            f" {c['extra_boxes']} int8 boxes without an fp32 match).",
            "",
        ]
    return out


# Acceptance targets of the int8 detector (issue 13).
INT8_SPEEDUP_MIN = 1.8  # x fp32 onnxruntime, batch 1, same run
PETS_DELTA_MAX = 0.02  # |int8 - fp32| person precision and recall
AGREEMENT_MIN = 0.95
OUTSIDE_INFERENCE_MAX_PCT = 15.0  # node: share of the cycle outside inference, 1 camera 720p


def acceptance(report: Report) -> list[str]:
    """One line per acceptance check the results allow (int8 speed and accuracy, the node's share of
    the cycle outside inference), with the measured value and met / not met."""
    lines = []
    det, acc = report.get("detector"), report.get("accuracy")
    speed = (det or {}).get("speedup_over_fp32_onnxruntime", {}).get("onnxruntime cpu int8 batch 1")
    if speed:
        ok = speed["median"] >= INT8_SPEEDUP_MIN
        lines.append(
            f"* int8 speed-up over fp32 onnxruntime, batch 1: {speed['median']:.2f}x (median of"
            f" {len(speed['per_repeat'])} paired repeats; target >= {INT8_SPEEDUP_MIN}x): **{_met(ok)}**"
            + ("" if ok else '; what bounds it on this model: detector.md, "int8 on CPU"')
        )
    ref = (acc or {}).get("compare", {}).get("reference")
    if acc and ref:
        for key in ("precision", "recall"):
            d = acc[key] - ref[key]
            lines.append(
                f"* PETS person {key}: int8 {acc[key]:.3f} vs fp32 {ref[key]:.3f} ({d:+.3f}; target within"
                f" {PETS_DELTA_MAX}): **{_met(abs(d) <= PETS_DELTA_MAX)}**"
            )
        c = acc["compare"]
        share = c["matched_boxes"] / max(c["reference_boxes"], 1)
        lines.append(
            f"* box agreement: {share:.4f} (target >= {AGREEMENT_MIN}): **{_met(share >= AGREEMENT_MIN)}**"
        )
    lines += _node_acceptance(report)
    return [*(["## Acceptance", "", *lines, ""] if lines else [])]


def _node_acceptance(report: Report) -> list[str]:
    """The default node's share of the cycle outside inference, 1 camera, no optional subscriber."""
    node = report.get("node")
    runs = [
        r for r in (node or {}).get("per_camera", {}).values() if r.get("outside_inference_pct") is not None
    ]
    if not runs:
        return []
    r = runs[0]
    share, inference = float(r["outside_inference_pct"]), r.get("stages_ms_p50", {}).get("inference")
    ok = share <= OUTSIDE_INFERENCE_MAX_PCT
    return [
        f"* node, 1 camera 1280x720, no optional subscriber: {share:.1f} % of the cycle outside inference"
        f" (cycle {r.get('cycle_ms_p50')} ms, inference {inference} ms;"
        f" target <= {OUTSIDE_INFERENCE_MAX_PCT:g} %): **{_met(ok)}**"
        + ("" if ok else "; where the rest goes: ros.md, Measured")
    ]


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def _failed(report: Report, key: str) -> str:
    b = report.benches.get(key)
    if b is None:
        return "Not run (skipped)."
    return f"`{b.command}` gave no result: {b.error or 'no output'}."


def _node_runs(node: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(mode, per-camera results): the default node, and the other ``io.pipeline`` when the bench ran it."""
    runs = [("io.pipeline auto (default)", node.get("per_camera", {}))]
    if "also_pipeline" in node:
        runs.append(
            (f"io.pipeline {node['also_pipeline']['mode']}", node["also_pipeline"].get("per_camera", {}))
        )
    return runs


def _node_section(report: Report, plots_: dict[str, Path], base: Path) -> list[str]:
    node = report.get("node")
    out = ["## Node", ""]
    if not node:
        return [*out, _failed(report, "node"), ""]
    out += [
        f"`{report.benches['node'].command}`",
        "",
        "Without an annotated-image subscriber; the bench listens to the detections and, as a planner, to"
        " the fused `objects`. `cycle` = the time per frame at full load (a batch's time split over its"
        " frames), the fused list (`fuse`) and"
        " publishing included: when the node pipelines (`io.pipeline`), the detector's thread and the"
        " output thread overlap and the cycle is the longer of the two, else their sum; outside inference ="
        " (cycle - inference) / cycle (docs/ros.md, Measured). A node that keeps up with its camera rarely"
        " overlaps the two, so a pipelined cycle is the period they would allow if they did not slow each"
        " other; whether they do shows only with the node saturated (docs/ros.md, detector and output"
        " threads).",
        "",
    ]
    header = ["mode", "camera", "processed Hz", "latency p50 ms", "latency p95 ms", "cycle p50 ms"]
    rows = [
        [
            mode,
            cam,
            r.get("processed_hz"),
            r.get("latency_ms_p50"),
            r.get("latency_ms_p95"),
            r.get("cycle_ms_p50", ""),
            r.get("outside_inference_pct", ""),
        ]
        for mode, cams in _node_runs(node)
        for cam, r in cams.items()
    ]
    out += [_table([*header, "outside inference %"], rows), ""]
    stages = node_stages(node)
    if stages:
        names: list[str] = []
        for s in stages.values():
            names += [k for k in s if k not in names]
        out += [
            "Cycle by stage of the default node (medians, ms):",
            "",
            _table(
                ["camera", *names],
                [[cam, *(f"{s.get(n, float('nan')):.2f}" for n in names)] for cam, s in stages.items()],
            ),
            "",
            _img("node_stages", plots_, base, "node cycle by stage"),
            "",
        ]
    else:
        out += ["The node bench's JSON on this branch has no per-stage breakdown (`stages_ms_p50`).", ""]
    return out


def _cameras_of(bench: Bench) -> int:
    argv = bench.argv
    return int(argv[argv.index("--cameras") + 1]) if "--cameras" in argv[:-1] else 1


def _cameras_section(report: Report) -> list[str]:
    """The node with 1, 2, 4 ... cameras (rows only for the camera counts that ran; none: nothing)."""
    runs = sorted(
        ((_cameras_of(b), b) for b in report.benches.values() if b.key.startswith("node")),
        key=lambda nb: nb[0],
    )
    if len(runs) < 2:
        return []
    rows = []
    for n, b in runs:
        if b.result is None:
            rows.append([n, f"no result: {b.error or 'no output'}", "", "", "", "", ""])
            continue
        for cam, r in b.result.get("per_camera", {}).items():
            inference = r.get("stages_ms_p50", {}).get("inference", "")
            rows.append(
                [
                    n,
                    cam,
                    r.get("processed_hz"),
                    r.get("latency_ms_p50"),
                    r.get("cycle_ms_p50", ""),
                    inference,
                    r.get("outside_inference_pct", ""),
                ]
            )
    header = ["cameras", "camera", "processed Hz", "latency p50 ms", "cycle p50 ms", "inference p50 ms"]
    commands = ", ".join(f"`{b.command}`" for _, b in runs)
    return [
        "### Node with more cameras",
        "",
        f"{commands} (default node, no annotated-image subscriber; the cameras' frames go through the"
        " detector as one batch, and every stage, `cycle` included, is per processed frame: a batch's"
        " time split over its frames).",
        "",
        _table([*header, "outside inference %"], rows),
        "",
    ]


def _small_benches(report: Report) -> list[str]:
    out = ["## Tracker and predictor", ""]
    tr = report.get("tracker")
    if tr:
        out.append(
            f"* `{report.benches['tracker'].command}`: {tr['objects']} objects, step median"
            f" {tr['step_ms_median']:.3f} ms, p99 {tr['step_ms_p99']:.3f} ms (best of {tr['repeat']} runs)."
        )
    else:
        out.append(f"* tracker: {_failed(report, 'tracker')}")
    pr = report.get("predictor")
    if pr:
        for r in pr["results"]:
            out.append(
                f"* `{report.benches['predictor'].command}`: {pr['agents']} agents, {r['threads']} thread(s):"
                f" model forward p50 {r['model']['p50_ms']:.3f} ms,"
                f" full predict() p50 {r['predict']['p50_ms']:.3f} ms."
            )
    else:
        out.append(f"* predictor: {_failed(report, 'predictor')}")
    return [*out, ""]


def markdown(report: Report, plots_: dict[str, Path], base: Path) -> str:
    m = report.machine
    head = [
        "# Benchmarks",
        "",
        "Generated by `lepton bench report` (do not edit by hand; rerun it). Timings on a shared machine"
        " are noisy: compare runs only as the ratios measured side by side in one run.",
        "",
        f"Machine: {m.get('cpu')} ({m.get('cpu_count')} CPUs), {m.get('date_utc')} UTC;"
        f" python {m.get('python')}, numpy {m.get('numpy')}, onnxruntime {m.get('onnxruntime')}"
        f" ({', '.join(m.get('onnxruntime_providers', []))}), torch {m.get('torch')},"
        f" CUDA device: {m.get('cuda') or 'none'}.",
        "",
    ]
    body = (
        acceptance(report)
        + _detector_section(report, plots_, base)
        + _accuracy_section(report)
        + _node_section(report, plots_, base)
        + _cameras_section(report)
        + _small_benches(report)
    )
    text = "\n".join(head + body)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip() + "\n"
