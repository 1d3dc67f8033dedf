"""``lepton report RUN_DIR``: a markdown report with plots over a ``lepton process --out-dir`` run.

Reads only the run's manifest and Parquet tables (no ROS, no models): objects per class, track lengths
and lifetimes, per-stage latency, skipped frames and failures. Writes ``RUN_DIR/report/report.md`` and
its PNGs (or ``--out DIR``); a previous report of ours is replaced, nothing else is touched.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from lepton_perception.fleet.manifest import SKIP_COUNTERS
from lepton_perception.fleet.safety import (
    UserError,
    check_replaceable,
    check_writable_parent,
    commit,
    remove_ours,
    staging_dir,
    write_marker,
)

STAGES = ("detect", "track", "predict")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="markdown report with plots over a lepton process --out-dir run")
    p.add_argument("run_dir", help="directory written by lepton process --out-dir")
    p.add_argument("--out", default=None, help="report directory (default: RUN_DIR/report)")
    p.set_defaults(func=run)


def load_run(run_dir: Path) -> tuple[list[dict[str, Any]], Any]:
    """Manifest rows and all recordings' tracked objects (one pyarrow table, possibly empty)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lepton_perception.fleet.tables import TRACKED_SCHEMA

    try:
        rows: list[dict[str, Any]] = pq.read_table(run_dir / "manifest.parquet").to_pylist()
    except (OSError, pa.ArrowException) as exc:
        raise UserError(
            f"{run_dir} is not a lepton process run (cannot read manifest.parquet: {exc})"
        ) from None
    tables = []
    for row in rows:
        path = run_dir / row["name"] / "tracked_objects.parquet"
        if row["status"] in ("done", "skipped") and path.is_file():
            tables.append(pq.read_table(path, schema=TRACKED_SCHEMA))
    tracked = pa.concat_tables(tables) if tables else TRACKED_SCHEMA.empty_table()
    return rows, tracked


def track_stats(tracked: Any) -> dict[str, np.ndarray]:
    """Per object (recording, uuid): frames seen, lifetime s (last - first stamp), its class."""
    if tracked.num_rows == 0:
        return {"frames": np.zeros(0), "lifetime_s": np.zeros(0), "class_name": np.array([], dtype=object)}
    df = tracked.select(["recording", "uuid", "stamp_ns", "class_name"]).to_pandas()
    g = df.groupby(["recording", "uuid"])
    return {
        "frames": g.size().to_numpy(),
        "lifetime_s": ((g["stamp_ns"].max() - g["stamp_ns"].min()) * 1e-9).to_numpy(),
        "class_name": g["class_name"].agg(lambda s: s.mode().iloc[0]).to_numpy(),
    }


def _plots(out: Path, stats: dict[str, np.ndarray], rows: list[dict[str, Any]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    classes = Counter(stats["class_name"].tolist())
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(list(classes), list(classes.values()), color="tab:blue")
    ax.set(title="Objects per class", ylabel="objects (tracks)")
    fig.tight_layout()
    fig.savefig(out / "objects_per_class.png", dpi=100)
    made.append("objects_per_class.png")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    axes[0].hist(stats["frames"], bins=30, color="tab:green")
    axes[0].set(title="Track length", xlabel="frames", ylabel="objects")
    axes[1].hist(stats["lifetime_s"], bins=30, color="tab:orange")
    axes[1].set(title="Track lifetime", xlabel="s", ylabel="objects")
    fig.tight_layout()
    fig.savefig(out / "track_lengths.png", dpi=100)
    made.append("track_lengths.png")
    done = [r for r in rows if r["status"] in ("done", "skipped")]
    data = [[r[f"{s}_ms_mean"] for r in done if r[f"{s}_ms_mean"] is not None] for s in STAGES]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.boxplot([d or [0.0] for d in data], tick_labels=list(STAGES))
    ax.set(title="Per-stage latency (mean per recording)", ylabel="ms per frame")
    fig.tight_layout()
    fig.savefig(out / "stage_latency.png", dpi=100)
    made.append("stage_latency.png")
    plt.close("all")
    return made


def _fmt(v: Any, digits: int = 1) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def _pct(a: np.ndarray, q: float) -> str:
    return _fmt(float(np.percentile(a, q))) if len(a) else "-"


def render(run_dir: Path, rows: list[dict[str, Any]], stats: dict[str, np.ndarray]) -> str:
    status = Counter(r["status"] for r in rows)
    ok = [r for r in rows if r["status"] in ("done", "skipped")]
    lines = [
        f"# Run report: {run_dir.resolve().name}",
        "",
        f"Recordings: {len(rows)} ({status['done']} done, {status['skipped']} skipped, "
        f"{status['failed']} failed, {status['pending']} pending). "
        f"Frames: {sum(int(r['frames'] or 0) for r in ok)}. Objects (tracks): {len(stats['frames'])}.",
        "",
        "## Objects per class",
        "",
        "| class | objects | median length, frames | median lifetime, s |",
        "|---|---:|---:|---:|",
    ]
    for cls, n in sorted(Counter(stats["class_name"].tolist()).items(), key=lambda kv: -kv[1]):
        sel = stats["class_name"] == cls
        lines.append(
            f"| {cls} | {n} | {_pct(stats['frames'][sel], 50)} | {_pct(stats['lifetime_s'][sel], 50)} |"
        )
    lines += ["", "![objects per class](objects_per_class.png)", "", "## Track lengths and lifetimes", ""]
    lines += [
        "| | p10 | median | p90 | max |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | " + " | ".join(_pct(stats[k], q) for q in (10, 50, 90, 100)) + " |"
            for name, k in (("length, frames", "frames"), ("lifetime, s", "lifetime_s"))
        ),
        "",
        "![track lengths](track_lengths.png)",
        "",
    ]
    return "\n".join(lines + _latency(ok) + _skips(ok) + _failures(rows)) + "\n"


def _latency(ok: list[dict[str, Any]]) -> list[str]:
    lines = ["## Per-stage latency", "", "Mean ms per frame, over recordings.", ""]
    lines += ["| stage | mean | min | max |", "|---|---:|---:|---:|"]
    for s in STAGES:
        v = np.array([r[f"{s}_ms_mean"] for r in ok if r[f"{s}_ms_mean"] is not None], dtype=float)
        lines.append(f"| {s} | {_fmt(v.mean() if len(v) else None)} | {_pct(v, 0)} | {_pct(v, 100)} |")
    fps = [r["fps"] for r in ok if r["fps"]]
    lines += [
        "",
        f"Throughput per recording (worker view): median {_fmt(float(np.median(fps)) if fps else None)} fps.",
    ]
    return [*lines, "", "![stage latency](stage_latency.png)", ""]


def _skips(ok: list[dict[str, Any]]) -> list[str]:
    totals: Counter[str] = Counter()
    for r in ok:
        totals.update(json.loads(r["counters_json"] or "{}"))
    frames = sum(int(r["frames"] or 0) for r in ok)
    lines = ["## Skipped frames", "", f"Frames read: {frames}; processed: {totals['processed']}.", ""]
    lines += ["| reason | frames |", "|---|---:|"]
    lines += [f"| {k} | {totals[k]} |" for k in SKIP_COUNTERS]
    return [*lines, ""]


def _failures(rows: list[dict[str, Any]]) -> list[str]:
    failed = [r for r in rows if r["status"] == "failed"]
    if not failed:
        return ["## Failures", "", "None.", ""]
    lines = ["## Failures", "", "| input | error |", "|---|---|"]
    lines += [f"| {r['input']} | {str(r['error']).replace('|', '/')} |" for r in failed]
    return [*lines, ""]


def make_report(run_dir: Path, out: Path) -> Path:
    rows, tracked = load_run(run_dir)
    check_replaceable(out, overwrite=True, what="report directory")
    check_writable_parent(out, "report directory")
    work = staging_dir(out)
    try:
        staged = work / out.name
        staged.mkdir()
        stats = track_stats(tracked)
        _plots(staged, stats, rows)
        (staged / "report.md").write_text(render(run_dir, rows, stats))
        write_marker(staged, {"kind": "report", "run_dir": str(run_dir.resolve())})
        commit(staged, out)
    finally:
        remove_ours(work)
    return out / "report.md"


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    try:
        path = make_report(run_dir, Path(args.out) if args.out else run_dir / "report")
    except UserError as exc:
        print(f"lepton report: error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0
