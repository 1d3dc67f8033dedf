"""``lepton bench report``: run the benches, write docs/benchmarks.md with tables and PNG plots.

Each bench runs as its own ``lepton ... --json`` process (as a user would run it; one crashing or
missing bench is reported as such and the rest still run). The node bench is optional: when ``lepton
bench node`` is absent or fails, the report says so; when its ``--json`` gives per-camera
``stages_ms_p50`` (stage name -> ms), every stage it lists is tabled and plotted.
Plots use matplotlib's Agg backend (no display) and are written under ``--img-dir``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Bench:
    """One bench command and what came of it."""

    key: str
    argv: list[str]
    result: dict[str, Any] | None = None
    error: str = ""
    seconds: float = 0.0

    @property
    def command(self) -> str:
        return "lepton " + " ".join(self.argv)


@dataclass
class Report:
    benches: dict[str, Bench] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> dict[str, Any] | None:
        b = self.benches.get(key)
        return b.result if b else None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="run every bench and write docs/benchmarks.md with plots")
    p.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    p.add_argument("--img-dir", default=str(REPO / "docs" / "img"))
    p.add_argument(
        "--skip", nargs="*", default=[], choices=["detector", "accuracy", "tracker", "predictor", "node"]
    )
    p.add_argument("--repeats", type=int, default=3, help="detector bench: paired repeats")
    p.add_argument("--iters", type=int, default=20, help="detector bench: timed calls per repeat and batch")
    p.add_argument("--threads", type=int, default=0, help="detector bench: CPU threads (0: library default)")
    p.add_argument("--node-duration-s", type=float, default=20.0)
    p.add_argument(
        "--node-cameras",
        type=int,
        nargs="+",
        default=None,
        help="camera counts of the node bench (default: 1, and also 2 and 4 when torch sees a CUDA device)",
    )
    p.add_argument("--from-json", default=None, help="render from a saved results file instead of running")
    p.add_argument("--save-json", default=None, help="also save the raw results here")
    p.set_defaults(func=run)


def plan(args: argparse.Namespace) -> list[Bench]:
    """The bench commands, in the order they run."""
    det = ["bench", "detector", "--json", "--repeats", str(args.repeats), "--iters", str(args.iters)]
    det += ["--threads", str(args.threads), "--batches", "1", "4", "8"]
    benches = [
        Bench("detector", det),
        Bench(
            "accuracy",
            ["eval", "detection", "--json", "--backend", "onnxruntime", "--device", "cpu"]
            + ["--precision", "int8", "--compare", "fp32"],
        ),
        Bench("tracker", ["bench", "tracker", "--json"]),
        Bench("predictor", ["bench", "predictor", "--json"]),
        Bench(
            "node",
            ["bench", "node", "--json", "--cameras", "1", "--size", "1280x720", "--also-pipeline", "always"]
            + ["--duration-s", f"{args.node_duration_s:g}"],
        ),
    ]
    for n in node_camera_counts(args):  # more cameras: one detector batch per cycle (the GPU case)
        if n > 1:
            benches.append(
                Bench(
                    f"node_{n}cams",
                    ["bench", "node", "--json", "--cameras", str(n), "--size", "1280x720"]
                    + ["--duration-s", f"{args.node_duration_s:g}"],
                )
            )
    return [b for b in benches if b.key.split("_")[0] not in args.skip]


def node_camera_counts(args: argparse.Namespace) -> list[int]:
    """``--node-cameras``, or 1 camera, plus 2 and 4 on a machine where torch sees a CUDA device."""
    counts: list[int] | None = getattr(args, "node_cameras", None)
    if counts:
        return sorted(set(counts))
    try:
        import torch

        return [1, 2, 4] if torch.cuda.is_available() else [1]
    except ImportError:
        return [1]


def execute(bench: Bench) -> None:
    """Run one bench in its own process; its JSON (last stdout object) or its error lands on ``bench``."""
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    cmd = [sys.executable, "-m", "lepton_perception.tools.cli", *bench.argv]
    log.info("running %s", bench.command)
    t0 = dt.datetime.now()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    bench.seconds = (dt.datetime.now() - t0).total_seconds()
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        bench.error = f"exit {proc.returncode}: {tail}"
        log.warning("%s failed: %s", bench.command, bench.error)
        return
    try:
        bench.result = json.loads(proc.stdout[proc.stdout.index("{") :])
    except ValueError as exc:
        bench.error = f"output is not JSON ({exc})"


def machine_info() -> dict[str, Any]:
    import numpy as np
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["torch"] = None
    return info


def run(args: argparse.Namespace) -> int:
    from lepton_perception.tools.bench_report_render import markdown, plots, report_from_json, report_to_json

    if args.from_json:
        report = report_from_json(json.loads(Path(args.from_json).read_text()))
    else:
        report = Report()
        for bench in plan(args):
            execute(bench)
            report.benches[bench.key] = bench
        report.machine = machine_info()
    if args.save_json:
        Path(args.save_json).write_text(json.dumps(report_to_json(report), indent=1) + "\n")
    out, img_dir = Path(args.out), Path(args.img_dir)
    img_dir.mkdir(parents=True, exist_ok=True)
    plots_ = plots(report, img_dir)
    out.write_text(markdown(report, plots_, out.parent))
    print(f"wrote {out} and {len(plots_)} plots under {img_dir}")
    return 0 if all(b.result is not None or b.key.startswith("node") for b in report.benches.values()) else 1
