"""Run trackers over detection sequences and score them with TrackEval (HOTA, CLEAR, Identity).

The results are written into the layouts TrackEval's own dataset classes read (``Kitti2DBox``,
``MotChallenge2DBox``) in a temporary directory, so the official preprocessing rules apply unchanged
(KITTI: DontCare regions, Van / Person_sitting distractors, truncation > 0, occlusion > 2 and boxes
<= 25 px ignored).
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lepton_perception.core.evaluation.data import DetectionSequence, recording_frames
from lepton_perception.core.evaluation.peers import TrackerFactory

F64 = npt.NDArray[np.float64]
log = logging.getLogger(__name__)

METRICS = ("HOTA", "MOTA", "IDF1", "IDSW")
# What the headline figures are made of (``lepton eval tracking --detail``): HOTA = sqrt(DetA x AssA),
# detection recall / precision / localisation, IDF1's precision and recall, CLEAR's counts.
DETAIL_METRICS = ("DetA", "AssA", "DetRe", "DetPr", "LocA", "IDP", "IDR", "FP", "FN", "Frag")


@dataclass
class TrackerOutput:
    """Per-frame (M, 5) [x1, y1, x2, y2, id] rows of one tracker on one sequence's class, and its run
    time (its share of the recording's: the classes of a recording run together, the time split
    equally between them)."""

    seq: DetectionSequence
    frames: list[F64]
    seconds: float


def run_recording(factory: TrackerFactory, seqs: Sequence[DetectionSequence]) -> list[TrackerOutput]:
    """One fresh tracker over every image of one recording, given all its classes (``seqs``: one per
    class, same images); times only the tracker's ``update`` calls. One output per class."""
    classes = [s.coco_class for s in seqs]
    tracker = factory(classes, seqs[0].rate_hz)
    out: dict[int, list[F64]] = {c: [] for c in classes}
    spent = 0.0
    for stamp_s, frame in recording_frames(seqs):
        t0 = time.perf_counter()
        rows = tracker.update(frame, stamp_s)
        spent += time.perf_counter() - t0
        for c in classes:
            out[c].append(rows[c])
    return [TrackerOutput(s, out[s.coco_class], spent / len(seqs)) for s in seqs]


def _trackeval() -> Any:
    # trackeval prints optional-dependency notices on import (e.g. pycocotools for BURST): keep them
    # off stdout, which carries our --json output.
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        import trackeval
    if buf.getvalue().strip():
        log.debug("trackeval: %s", buf.getvalue().strip())
    return trackeval


def _evaluate(
    dataset_cls: str, dataset_config: dict[str, Any], trackers: list[str], classes: list[str]
) -> Any:
    te = _trackeval()
    eval_config = {
        "USE_PARALLEL": False,
        "PRINT_RESULTS": False,
        "PRINT_ONLY_COMBINED": True,
        "PRINT_CONFIG": False,
        "TIME_PROGRESS": False,
        "DISPLAY_LESS_PROGRESS": True,
        "OUTPUT_SUMMARY": False,
        "OUTPUT_EMPTY_CLASSES": False,
        "OUTPUT_DETAILED": False,
        "PLOT_CURVES": False,
    }
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        evaluator = te.Evaluator(eval_config)
        dataset = getattr(te.datasets, dataset_cls)(
            {
                **dataset_config,
                "TRACKERS_TO_EVAL": trackers,
                "CLASSES_TO_EVAL": classes,
                "PRINT_CONFIG": False,
            }
        )
        metrics = [te.metrics.HOTA(), te.metrics.CLEAR({"PRINT_CONFIG": False}), te.metrics.Identity()]
        res, msg = evaluator.evaluate([dataset], metrics)
    log.debug("trackeval output: %s", buf.getvalue())
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in trackers:
        if msg[dataset_cls][name] != "Success":
            raise RuntimeError(f"TrackEval failed for {name}: {msg[dataset_cls][name]}")
        combined = res[dataset_cls][name]["COMBINED_SEQ"]
        out[name] = {cls: _metrics(combined[cls]) for cls in classes}
    return out


def _metrics(r: dict[str, dict[str, Any]]) -> dict[str, float]:
    """``METRICS`` and ``DETAIL_METRICS`` (percentages, counts) of one TrackEval class result."""
    hota, clear, ident = r["HOTA"], r["CLEAR"], r["Identity"]
    pct = {k: 100.0 * float(np.mean(hota[k])) for k in ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "LocA")}
    return {
        **pct,
        "MOTA": 100.0 * float(clear["MOTA"]),
        "IDF1": 100.0 * float(ident["IDF1"]),
        "IDP": 100.0 * float(ident["IDP"]),
        "IDR": 100.0 * float(ident["IDR"]),
        "IDSW": float(clear["IDSW"]),
        "FP": float(clear["CLR_FP"]),
        "FN": float(clear["CLR_FN"]),
        "Frag": float(clear["Frag"]),
    }


def score_kitti(
    label_dir: Path, outputs: dict[str, list[TrackerOutput]], classes: Iterable[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """``outputs[tracker]``: runs over KITTI sequences (any classes) -> {tracker: {cls: metrics}}."""
    classes = list(classes)
    with tempfile.TemporaryDirectory(prefix="lepton_kitti_eval_") as tmp:
        root = Path(tmp)
        (root / "gt" / "label_02").mkdir(parents=True)
        lengths: dict[str, int] = {}
        for runs in outputs.values():
            for r in runs:
                lengths[r.seq.name] = max(lengths.get(r.seq.name, 0), r.seq.n_frames)
        for seq in lengths:
            shutil.copy(label_dir / f"{seq}.txt", root / "gt" / "label_02" / f"{seq}.txt")
        seqmap = "".join(f"{s} empty 000000 {n:06d}\n" for s, n in sorted(lengths.items()))
        (root / "gt" / "evaluate_tracking.seqmap.training").write_text(seqmap)
        for name, runs in outputs.items():
            data = root / "trackers" / name / "data"
            data.mkdir(parents=True)
            lines: dict[str, list[str]] = {s: [] for s in lengths}
            for r in runs:
                kitti_type = "Car" if r.seq.cls == "car" else "Pedestrian"
                id_offset = 0 if r.seq.cls == "car" else 1_000_000  # ids unique across classes
                for k, rows in enumerate(r.frames):
                    for x1, y1, x2, y2, tid in rows:
                        lines[r.seq.name].append(
                            f"{k} {int(tid) + id_offset} {kitti_type} -1 -1 -10 {x1:.2f} {y1:.2f} {x2:.2f} "
                            f"{y2:.2f} -1 -1 -1 -1000 -1000 -1000 -10 1\n"
                        )
            for seq, ls in lines.items():
                (data / f"{seq}.txt").write_text("".join(ls))
        config = {
            "GT_FOLDER": str(root / "gt"),
            "TRACKERS_FOLDER": str(root / "trackers"),
            "SPLIT_TO_EVAL": "training",
        }
        result: dict[str, dict[str, dict[str, float]]] = _evaluate(
            "Kitti2DBox", config, list(outputs), classes
        )
        return result


def score_mot(mot_root: Path, outputs: dict[str, list[TrackerOutput]]) -> dict[str, dict[str, float]]:
    """Pedestrian runs over MOT sequences -> {tracker: metrics}."""
    with tempfile.TemporaryDirectory(prefix="lepton_mot_eval_") as tmp:
        root = Path(tmp)
        lengths: dict[str, int] = {}
        for runs in outputs.values():
            for r in runs:
                lengths[r.seq.name] = r.seq.n_frames
        (root / "seqmap.txt").write_text("name\n" + "".join(f"{s}\n" for s in sorted(lengths)))
        for name, runs in outputs.items():
            data = root / "trackers" / name / "data"
            data.mkdir(parents=True)
            for r in runs:
                lines = [
                    f"{k + 1},{int(tid)},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,-1,-1,-1\n"
                    for k, rows in enumerate(r.frames)
                    for x1, y1, x2, y2, tid in rows
                ]
                (data / f"{r.seq.name}.txt").write_text("".join(lines))
        config = {
            "GT_FOLDER": str(mot_root),
            "TRACKERS_FOLDER": str(root / "trackers"),
            "BENCHMARK": "MOT15",
            "SPLIT_TO_EVAL": "train",
            "SEQMAP_FILE": str(root / "seqmap.txt"),
            "SEQ_INFO": dict(lengths),
            "SKIP_SPLIT_FOL": True,
            "GT_LOC_FORMAT": "{gt_folder}/{seq}/gt/gt.txt",
        }
        res = _evaluate("MotChallenge2DBox", config, list(outputs), ["pedestrian"])
        return {name: r["pedestrian"] for name, r in res.items()}
