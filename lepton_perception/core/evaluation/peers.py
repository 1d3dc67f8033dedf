"""Trackers measured side by side on the same detections, behind one small interface.

``lepton`` is ours; ``bytetrack`` and ``ocsort`` are boxmot's tracker classes with their default
settings (ByteTrack told the real frame rate); ``sort`` is ``evaluation.sort``. boxmot is imported
lazily: it is an evaluation-only dependency (``requirements-eval.txt``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from lepton_perception.core.evaluation.sort import Sort
from lepton_perception.core.tracking import MultiObjectTracker, TrackerConfig
from lepton_perception.core.types import Detections, TrackState

F64 = npt.NDArray[np.float64]


class BoxTracker(Protocol):
    """Per-frame detections of one class -> (M, 5) rows [x1, y1, x2, y2, track_id] to report now."""

    def update(self, boxes: F64, scores: F64, stamp_s: float) -> F64: ...


class LeptonTracker:
    def __init__(self, coco_class: int, config: TrackerConfig | None = None) -> None:
        self.tracker = MultiObjectTracker(config)
        self.coco_class = coco_class

    def update(self, boxes: F64, scores: F64, stamp_s: float) -> F64:
        dets = Detections(
            boxes.astype(np.float32),
            scores.astype(np.float32),
            np.full(len(scores), self.coco_class, np.int64),
        )
        tracks = self.tracker.step(dets, stamp_s)
        rows = [np.append(t.box, t.track_id) for t in tracks if t.state == TrackState.CONFIRMED]
        return np.array(rows, dtype=np.float64).reshape(-1, 5)


class SortTracker:
    def __init__(self) -> None:
        self.sort = Sort()

    def update(self, boxes: F64, scores: F64, stamp_s: float) -> F64:
        return self.sort.update(boxes)


class BoxmotTracker:
    """Wraps a boxmot tracker object (its ``update`` takes (N, 6) [x1, y1, x2, y2, conf, cls])."""

    def __init__(self, tracker: Any, coco_class: int) -> None:
        self.tracker = tracker
        self.coco_class = coco_class

    def update(self, boxes: F64, scores: F64, stamp_s: float) -> F64:
        dets = np.concatenate([boxes, scores[:, None], np.full((len(scores), 1), self.coco_class)], axis=1)
        out = np.asarray(self.tracker.update(dets.reshape(-1, 6), None))
        return out[:, :5].astype(np.float64).reshape(-1, 5) if out.size else np.zeros((0, 5))


def _bytetrack(coco_class: int, rate_hz: float) -> BoxTracker:
    from boxmot.trackers.box.bytetrack.tracker import ByteTrack

    _quiet_boxmot()
    return BoxmotTracker(ByteTrack(frame_rate=round(rate_hz)), coco_class)


def _ocsort(coco_class: int, rate_hz: float) -> BoxTracker:
    from boxmot.trackers.box.ocsort.tracker import OcSort

    _quiet_boxmot()
    return BoxmotTracker(OcSort(), coco_class)


def _quiet_boxmot() -> None:
    """boxmot logs every tracker construction at INFO (its import resets the level); keep our output
    readable."""
    logging.getLogger("boxmot").setLevel(logging.WARNING)


TrackerFactory = Callable[[int, float], BoxTracker]

PEERS: dict[str, TrackerFactory] = {
    "sort": lambda coco_class, rate_hz: SortTracker(),
    "bytetrack": _bytetrack,
    "ocsort": _ocsort,
}


def make_factories(config: TrackerConfig | None = None) -> dict[str, TrackerFactory]:
    """All trackers, ours first, keyed by the name used in reports."""
    ours: TrackerFactory = lambda coco_class, rate_hz: LeptonTracker(coco_class, config)  # noqa: E731
    return {"lepton": ours, **PEERS}
