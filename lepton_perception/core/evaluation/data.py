"""Tracking data sets as per-frame detections: KITTI tracking (2D boxes) and MOTChallenge 2015.

KITTI layout (as ``../shared/data/tracking/kitti``): ``label/SSSS.txt`` (KITTI tracking labels) and
``detections/pointrcnn_{Car,Pedestrian}/SSSS.txt`` (``frame,type,x1,y1,x2,y2,score_logit,...``).
MOT layout: ``SEQ/det/det.txt`` and ``SEQ/gt/gt.txt`` (``frame,id,x,y,w,h,conf,...``, frames 1-based).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
log = logging.getLogger(__name__)

KITTI_RATE_HZ = 10.0
# Every tracker gets every detection down to this score (ByteTrack-style trackers use the low-score
# ones to extend tracks). The shared KITTI files are already cut at 0.3, the MOT15 TUD ones at 0.5.
MIN_SCORE = 0.1
# KITTI tracking classes we evaluate -> (detection folder, COCO class id used by our tracker).
KITTI_CLASSES: dict[str, tuple[str, int]] = {
    "car": ("pointrcnn_Car", 2),
    "pedestrian": ("pointrcnn_Pedestrian", 0),
}


@dataclass(frozen=True)
class DetectionSequence:
    """Detections of one class in one sequence; frame ``k`` is at ``k / rate_hz`` seconds."""

    name: str
    cls: str  # "car" or "pedestrian"
    coco_class: int
    rate_hz: float
    n_frames: int
    boxes: list[F64]  # per frame (N, 4) xyxy px
    scores: list[F64]  # per frame (N,) probabilities
    skipped: int  # detections dropped (zero-size or non-finite boxes, score below the minimum)

    def stamp_s(self, frame: int) -> float:
        return frame / self.rate_hz


def recording_frames(seqs: Sequence[DetectionSequence]) -> Iterator[tuple[float, dict[int, tuple[F64, F64]]]]:
    """Per image of one recording given as its classes' sequences (``seqs``, same images): (stamp s,
    {COCO class id: ((N, 4) xyxy px boxes, (N,) scores)}), what every tracker is given together."""
    first = seqs[0]
    if any((s.name, s.n_frames, s.rate_hz) != (first.name, first.n_frames, first.rate_hz) for s in seqs):
        raise ValueError(f"classes of one recording must share its images: {[(s.name, s.cls) for s in seqs]}")
    for k in range(first.n_frames):
        yield first.stamp_s(k), {s.coco_class: (s.boxes[k], s.scores[k]) for s in seqs}


def _split_frames(
    frames: npt.NDArray[np.int64], boxes: F64, scores: F64, n: int
) -> tuple[list[F64], list[F64]]:
    order = np.argsort(frames, kind="stable")
    frames, boxes, scores = frames[order], boxes[order], scores[order]
    cuts = np.searchsorted(frames, np.arange(n + 1))
    return [boxes[a:b] for a, b in itertools.pairwise(cuts)], [
        scores[a:b] for a, b in itertools.pairwise(cuts)
    ]


def _clean(boxes: F64, scores: F64, min_score: float) -> npt.NDArray[np.bool_]:
    ok = np.isfinite(boxes).all(axis=1) & np.isfinite(scores) & (scores >= min_score)
    return ok & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def kitti_sequences(root: Path) -> list[str]:
    names = sorted(p.stem for p in (root / "label").glob("*.txt"))
    if not names:
        raise FileNotFoundError(f"no KITTI labels in {root / 'label'}")
    return names


def kitti_n_frames(root: Path, seq: str) -> int:
    """Frames in a sequence: one past the last frame seen in its labels or any detection file."""
    last = int(np.loadtxt(root / "label" / f"{seq}.txt", usecols=0, ndmin=1).max())
    for folder, _ in KITTI_CLASSES.values():
        f = root / "detections" / folder / f"{seq}.txt"
        if f.is_file() and f.stat().st_size:
            last = max(last, int(np.loadtxt(f, delimiter=",", usecols=0, ndmin=1).max()))
    return last + 1


def load_kitti(root: Path, seq: str, cls: str, min_score: float = MIN_SCORE) -> DetectionSequence:
    folder, coco = KITTI_CLASSES[cls]
    n = kitti_n_frames(root, seq)
    path = root / "detections" / folder / f"{seq}.txt"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no {cls} detections for sequence {seq} (every labelled sequence needs"
            f" detections/{folder}/{seq}.txt; an empty file means no detections)"
        )
    raw = np.loadtxt(path, delimiter=",", ndmin=2) if path.stat().st_size else np.zeros((0, 7))
    boxes, logits = raw[:, 2:6], raw[:, 6]
    scores = 1.0 / (1.0 + np.exp(-logits))  # the files store logits
    ok = _clean(boxes, scores, min_score)
    frames = raw[:, 0].astype(np.int64)
    b, s = _split_frames(frames[ok], boxes[ok], scores[ok], n)
    return DetectionSequence(seq, cls, coco, KITTI_RATE_HZ, n, b, s, int((~ok).sum()))


def load_mot(root: Path, seq: str, rate_hz: float, min_score: float = MIN_SCORE) -> DetectionSequence:
    det = np.loadtxt(root / seq / "det" / "det.txt", delimiter=",", ndmin=2)
    gt = np.loadtxt(root / seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
    n = int(max(det[:, 0].max(), gt[:, 0].max()))
    boxes = np.concatenate([det[:, 2:4], det[:, 2:4] + det[:, 4:6]], axis=1)
    scores = det[:, 6]
    ok = _clean(boxes, scores, min_score)
    # MOT frames are 1-based; ours are 0-based.
    b, s = _split_frames(det[ok, 0].astype(np.int64) - 1, boxes[ok], scores[ok], n)
    return DetectionSequence(seq, "pedestrian", 0, rate_hz, n, b, s, int((~ok).sum()))


# Frame rates of the MOT15 sequences (MOTChallenge seqinfo.ini ``frameRate``), for directories that
# hold only det/ and gt/ (the shared TUD-Campus and TUD-Stadtmitte do).
MOT15_RATES_HZ = {
    "ADL-Rundle-1": 30.0, "ADL-Rundle-3": 30.0, "ADL-Rundle-6": 30.0, "ADL-Rundle-8": 30.0,
    "AVG-TownCentre": 2.5, "ETH-Bahnhof": 14.0, "ETH-Crossing": 14.0, "ETH-Jelmoli": 14.0,
    "ETH-Linthescher": 14.0, "ETH-Pedcross2": 14.0, "ETH-Sunnyday": 14.0, "KITTI-13": 10.0,
    "KITTI-16": 10.0, "KITTI-17": 10.0, "KITTI-19": 10.0, "PETS09-S2L1": 7.0, "PETS09-S2L2": 7.0,
    "TUD-Campus": 25.0, "TUD-Crossing": 25.0, "TUD-Stadtmitte": 25.0, "Venice-1": 30.0, "Venice-2": 30.0,
}  # fmt: skip


def mot_sequences(root: Path) -> dict[str, float]:
    """Every sequence under ``root`` with det/det.txt and gt/gt.txt -> its frame rate (Hz): the
    ``frameRate`` of its seqinfo.ini when it has one, else MOT15's own (``MOT15_RATES_HZ``). A sequence
    whose rate is unknown is skipped with a warning: time in the tracker is seconds from stamps, so
    a guessed rate would change its results."""
    out: dict[str, float] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if not ((d / "det" / "det.txt").is_file() and (d / "gt" / "gt.txt").is_file()):
            continue
        rate = _seqinfo_rate(d / "seqinfo.ini") or MOT15_RATES_HZ.get(d.name)
        if rate is None:
            log.warning("%s: no frame rate (no seqinfo.ini frameRate, not a MOT15 sequence); skipped", d)
            continue
        out[d.name] = rate
    return out


def _seqinfo_rate(path: Path) -> float | None:
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip().lower() == "framerate" and value.strip():
            return float(value)
    return None
