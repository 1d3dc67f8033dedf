"""``lepton eval scores``: precision per detection-score band, of the raw detections and of the boxes our
tracker reports, on the KITTI and MOT15 tracking data ``lepton eval tracking`` uses
(``core/evaluation/score_bands.py``). Point ``--kitti`` / ``--mot`` at your own labelled recordings, in
the same layouts, to see where your detector's scores are worth tracking."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from pathlib import Path
from typing import Any

from lepton_perception.core.evaluation import data
from lepton_perception.core.evaluation import score_bands as sb
from lepton_perception.tools.eval_tracking import (
    add_data_args,
    add_tracker_param_arg,
    data_dirs,
    tracker_config,
)

log = logging.getLogger(__name__)

KITTI_TYPES = {"car": "Car", "pedestrian": "Pedestrian"}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "scores", help="precision per detection-score band: raw detections and our tracker's reported boxes"
    )
    add_data_args(p)
    p.add_argument(
        "--edges",
        default=",".join(map(str, sb.DEFAULT_EDGES)),
        help="ascending score band edges, comma-separated",
    )
    add_tracker_param_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def _kitti_recordings(kitti: Path) -> list[list[sb.Labelled]]:
    recordings: list[list[sb.Labelled]] = []
    for name in data.kitti_sequences(kitti):
        label = kitti / "label" / f"{name}.txt"
        seqs = [data.load_kitti(kitti, name, cls) for cls in KITTI_TYPES]
        recordings.append([(s, sb.kitti_truth(label, KITTI_TYPES[s.cls], s.n_frames)) for s in seqs])
    return recordings


def _mot_recordings(mot: Path) -> list[list[sb.Labelled]]:
    seqs = [data.load_mot(mot, name, rate) for name, rate in data.mot_sequences(mot).items()]
    return [[(s, sb.mot_truth(mot / s.name / "gt" / "gt.txt", s.n_frames))] for s in seqs]


def evaluate(
    kitti: Path, mot: Path | None, edges: list[float], params: list[str] | None = None
) -> dict[str, Any]:
    """{"edges": [...], "cells": {cell: {"detections": [band...], "reported": [band...]}}}."""
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"--edges must be at least two ascending scores, got {edges}")
    config = tracker_config(params or [])
    scored = {f"kitti_{c}": r for c, r in sb.score_recordings(_kitti_recordings(kitti), config).items()}
    if mot is not None:
        scored |= {f"mot_{c}": r for c, r in sb.score_recordings(_mot_recordings(mot), config).items()}
    out: dict[str, Any] = {"edges": edges, "cells": {}}
    for name, (raw, reported) in scored.items():
        out["cells"][name] = {"detections": _rows(raw.bands(edges)), "reported": _rows(reported.bands(edges))}
    return out


def _rows(bands: list[sb.Band]) -> list[dict[str, Any]]:
    return [
        {"lo": b.lo, "hi": b.hi, "n": b.n, "true": b.true, "ignored": b.ignored, "precision": b.precision}
        for b in bands
    ]


def _table(result: dict[str, Any]) -> str:
    head = f"{'cell':<16} {'band':<11} {'detections n':>12} {'precision':>9}"
    lines = [head + f" | {'reported n':>10} {'precision':>9}"]
    for cell, r in result["cells"].items():
        for d, t in zip(r["detections"], r["reported"], strict=True):
            band = f"[{d['lo']:.2f},{d['hi']:.2f})"
            lines.append(f"{cell:<16} {band:<11} {d['n']:>12} {_pct(d):>9} | {t['n']:>10} {_pct(t):>9}")
    return "\n".join(lines)


def _pct(row: dict[str, Any]) -> str:
    return "-" if row["precision"] is None else f"{100 * row['precision']:.1f} %"


def run(args: argparse.Namespace) -> int:
    kitti, mot = data_dirs(args)
    try:
        edges = [float(e) for e in args.edges.split(",") if e.strip()]
        result = evaluate(kitti, mot, edges, args.tracker_param)
    except (FileNotFoundError, ValueError) as exc:  # missing data, bad edges or parameters: one line
        log.error("%s", exc)
        return 2
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0
