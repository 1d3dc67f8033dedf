"""``lepton eval tracking``: our tracker and its peers on the same detections, scored with TrackEval.

KITTI tracking (Car, Pedestrian; KITTI 2D box rules) and MOTChallenge 2015 (pedestrians). Speed is
frames per second of the tracker's update alone (detections preloaded, both classes per KITTI image).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import typing
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lepton_perception.core.evaluation import data, peers, scoring
from lepton_perception.core.tracking import TrackerConfig
from lepton_perception.tools.common import print_json, shared_dir

log = logging.getLogger(__name__)

DEFAULT_TRACKERS = ("lepton", "sort", "bytetrack", "ocsort", "botsort", "cbiou")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "tracking",
        help="tracker vs SORT / ByteTrack / OC-SORT / BoT-SORT / C-BIoU on KITTI and MOT15 (TrackEval)",
    )
    add_data_args(p)
    p.add_argument("--trackers", default=",".join(DEFAULT_TRACKERS), help="comma-separated subset")
    p.add_argument(
        "--peer-settings",
        choices=list(peers.PROFILES),
        default="published",
        help="peers' thresholds: the authors' published ones, or boxmot 25.0.0's own (yaml) defaults; "
        "either way the run is checked against ../shared/README.md's reference figures",
    )
    add_tracker_param_arg(p)
    p.add_argument(
        "--detail",
        action="store_true",
        help="also report what HOTA, IDF1 and MOTA are made of (DetA, AssA, DetRe, DetPr, LocA, IDP, IDR, "
        "FP, FN, Frag) per tracker and cell: JSON 'detail', a second table",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def add_data_args(p: argparse.ArgumentParser) -> None:
    """``--kitti``, ``--mot``, ``--no-mot``: the labelled tracking data (``data_dirs`` reads them)."""
    p.add_argument(
        "--kitti", type=Path, default=None, help="KITTI dir with label/ and detections/ (default: shared)"
    )
    p.add_argument("--mot", type=Path, default=None, help="MOT15 dir with TUD-* sequences (default: shared)")
    p.add_argument("--no-mot", action="store_true", help="skip the MOT15 sequences")


def add_tracker_param_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tracker-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="our tracker with this TrackerConfig field changed (repeatable), e.g. confirm_first_image=false",
    )


def data_dirs(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """(KITTI dir, MOT dir or None) from ``add_data_args``' options; a missing MOT dir is skipped."""
    kitti = args.kitti or shared_dir() / "data" / "tracking" / "kitti"
    mot = None if args.no_mot else (args.mot or shared_dir() / "data" / "tracking" / "mot15")
    if mot is not None and not mot.is_dir():
        log.warning("no MOT15 data at %s; skipping it", mot)
        mot = None
    return kitti, mot


def _run_all(
    factories: dict[str, peers.TrackerFactory], recordings: list[list[data.DetectionSequence]], desc: str
) -> dict[str, list[scoring.TrackerOutput]]:
    """Every tracker over every recording (its classes' sequences together): one output per class."""
    outs: dict[str, list[scoring.TrackerOutput]] = {name: [] for name in factories}
    with tqdm(total=len(factories) * len(recordings), desc=desc, file=sys.stderr, leave=False) as bar:
        for name, factory in factories.items():
            for rec in recordings:
                outs[name].extend(scoring.run_recording(factory, rec))
                bar.update()
    return outs


def tracker_config(assignments: list[str]) -> TrackerConfig:
    """``TrackerConfig`` with ``NAME=VALUE`` fields changed, each value parsed as its field's type."""
    default = TrackerConfig()
    changes: dict[str, Any] = {}
    for a in assignments:
        name, sep, text = (part.strip() for part in a.partition("="))
        if not sep or not hasattr(default, name):
            raise ValueError(f"--tracker-param wants NAME=VALUE with a TrackerConfig field, got {a!r}")
        changes[name] = _parse_field(name, type(getattr(default, name)), text)
    return dataclasses.replace(default, **changes)


def _parse_field(name: str, kind: type, text: str) -> Any:
    """``text`` as a value of field ``name`` of type ``kind`` (bool: true/false; str: one of its choices)."""
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{name} wants true or false, got {text!r}")
        return text.lower() == "true"
    value = kind(text)
    choices = typing.get_args(typing.get_type_hints(TrackerConfig)[name])
    if kind is str and value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _select(
    names: list[str], profile: str, config: TrackerConfig | None = None
) -> dict[str, peers.TrackerFactory]:
    all_factories = peers.make_factories(config, profile=profile)
    unknown = [n for n in names if n not in all_factories]
    if unknown:
        raise ValueError(f"unknown trackers {unknown}; known: {list(all_factories)}")
    return {n: all_factories[n] for n in names}


def _evaluate_kitti(
    kitti: Path, factories: dict[str, peers.TrackerFactory], min_score: float
) -> dict[str, Any]:
    classes = list(data.KITTI_CLASSES)
    seq_names = data.kitti_sequences(kitti)
    recordings = [[data.load_kitti(kitti, s, c, min_score) for c in classes] for s in seq_names]
    skipped = sum(s.skipped for rec in recordings for s in rec)
    if skipped:
        log.info("KITTI: dropped %d zero-size or below-%.2f detections", skipped, min_score)
    outs = _run_all(factories, recordings, "KITTI")
    n_images = sum(data.kitti_n_frames(kitti, s) for s in seq_names)
    scores = scoring.score_kitti(kitti / "label", outs, classes)
    result: dict[str, Any] = {"trackers": {}, "kitti_sequences": seq_names, "kitti_images": n_images}
    for name in factories:
        per_cls = scores[name]
        overall = {m: sum(per_cls[c][m] for c in classes) / len(classes) for m in scoring.METRICS}
        overall["IDSW"] = sum(per_cls[c]["IDSW"] for c in classes)
        # Images per second, both classes per image (ours tracks them in one tracker: no time per class).
        fps = n_images / max(sum(o.seconds for o in outs[name]), 1e-9)
        result["trackers"][name] = {**per_cls, "overall": overall, "fps": fps}
    return result


def _evaluate_mot(
    mot: Path, factories: dict[str, peers.TrackerFactory], min_score: float, result: dict[str, Any]
) -> None:
    mot_seqs = [data.load_mot(mot, s, r, min_score) for s, r in data.mot_sequences(mot).items()]
    if not mot_seqs:
        return
    mot_outs = _run_all(factories, [[s] for s in mot_seqs], "MOT15")
    mot_scores = scoring.score_mot(mot, mot_outs)
    n_mot = sum(s.n_frames for s in mot_seqs)
    result["mot15_sequences"] = [s.name for s in mot_seqs]
    for name in factories:
        fps = n_mot / max(sum(o.seconds for o in mot_outs[name]), 1e-9)
        result["trackers"][name]["mot15_pedestrian"] = {**mot_scores[name], "fps": fps}


def reproduction(result: dict[str, Any]) -> list[dict[str, Any]]:
    """This run's KITTI HOTA / IDF1 against ../shared/README.md's reference figures, per peer and class
    (none unless the run is over the README's sequences: figures over other sets do not compare)."""
    rows: list[dict[str, Any]] = []
    if tuple(result.get("kitti_sequences", ())) != peers.README_SEQUENCES:
        return rows
    for name, ref in peers.README_REFERENCE.items():
        ours = result["trackers"].get(name)
        if ours is None:
            continue
        for cls, (hota, idf1) in ref.items():
            rows.append(
                {
                    "tracker": name,
                    "class": cls,
                    "readme_HOTA": hota,
                    "HOTA": ours[cls]["HOTA"],
                    "dHOTA": ours[cls]["HOTA"] - hota,
                    "readme_IDF1": idf1,
                    "IDF1": ours[cls]["IDF1"],
                    "dIDF1": ours[cls]["IDF1"] - idf1,
                }
            )
    return rows


def evaluate(
    kitti: Path,
    mot: Path | None,
    names: list[str],
    profile: str = "published",
    min_score: float = data.MIN_SCORE,
    detail: bool = False,
    config: TrackerConfig | None = None,
) -> dict[str, Any]:
    factories = _select(names, profile, config)
    result = _evaluate_kitti(kitti, factories, min_score)
    if mot is not None:
        _evaluate_mot(mot, factories, min_score, result)
    details = _split_detail(result)
    if detail:
        result["detail"] = details
    specs = peers.PROFILES[profile]()
    result["peer_settings"] = {
        "profile": profile,
        "min_score": min_score,
        "peers": {
            n: {"settings": dict(specs[n].settings), "source": specs[n].source} for n in names if n in specs
        },
    }
    result["reproduction"] = reproduction(result)
    if config is not None:
        result["tracker_config"] = dataclasses.asdict(config)
    return result


CELLS = ("car", "pedestrian", "mot15_pedestrian")
COUNTS = ("FP", "FN", "Frag")


def _split_detail(result: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """Move the ``scoring.DETAIL_METRICS`` out of every tracker's cells (which keep their headline
    keys) into {tracker: {cell: {metric: value}}}."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, r in result["trackers"].items():
        out[name] = {cell: {k: r[cell].pop(k) for k in scoring.DETAIL_METRICS} for cell in CELLS if cell in r}
    return out


def _detail_table(details: dict[str, dict[str, dict[str, float]]]) -> str:
    keys = scoring.DETAIL_METRICS
    lines = [f"{'tracker':<10} {'cell':<17}" + "".join(f" {k:>7}" for k in keys)]
    for name, cells in details.items():
        for cell, m in cells.items():
            values = "".join(f" {m[k]:7.{0 if k in COUNTS else 2}f}" for k in keys)
            lines.append(f"{name:<10} {cell:<17}{values}")
    return "\n".join(lines)


def _cell_fps(r: dict[str, Any], key: str) -> float | None:
    if key == "mot15_pedestrian":
        return r[key]["fps"] if key in r else None
    return float(r["fps"])


def _table(result: dict[str, Any]) -> str:
    cols = [("car", "KITTI Car"), ("pedestrian", "KITTI Pedestrian"), ("mot15_pedestrian", "MOT15 TUD")]
    cell = "{HOTA:6.2f} {MOTA:7.2f} {IDF1:6.2f} {IDSW:5.0f} {fps:6.0f}"
    width = len(cell.format(HOTA=0, MOTA=0, IDF1=0, IDSW=0, fps=0))
    head = f"{'tracker':<10}" + "".join(f" | {title:^{width}}" for _, title in cols) + " |"
    sub = f"{'':<10}" + f" | {'HOTA':>6} {'MOTA':>7} {'IDF1':>6} {'IDSW':>5} {'fps':>6}" * len(cols) + " |"
    lines = [head, sub, "-" * len(head)]
    for name, r in result["trackers"].items():
        row = f"{name:<10}"
        for key, _ in cols:
            m = r.get(key)
            row += " | " + (cell.format(**{**m, "fps": _cell_fps(r, key)}) if m else f"{'-':^{width}}")
        lines.append(row + " |")
    if result.get("reproduction"):
        lines += ["", "vs ../shared/README.md   class       HOTA readme   diff |  IDF1 readme   diff"]
        lines += [
            f"{r['tracker']:<24} {r['class']:<10} {r['HOTA']:5.2f} {r['readme_HOTA']:6.2f} {r['dHOTA']:+6.2f}"
            f" | {r['IDF1']:5.2f} {r['readme_IDF1']:6.2f} {r['dIDF1']:+6.2f}"
            for r in result["reproduction"]
        ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    kitti, mot = data_dirs(args)
    names = [n.strip() for n in args.trackers.split(",") if n.strip()]
    config = tracker_config(args.tracker_param) if args.tracker_param else None
    try:
        result = evaluate(kitti, mot, names, args.peer_settings, detail=args.detail, config=config)
    except FileNotFoundError as exc:  # a sequence without its labels or detections: say which
        log.error("%s", exc)
        return 2
    if args.json:
        print_json(result)
    else:
        print(_table(result))
        if args.detail:
            print("\n" + _detail_table(result["detail"]))
    return 0
