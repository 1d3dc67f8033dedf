"""One frame (or a batch of frames from several cameras) through detect -> track -> predict."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from lepton_perception.core.detection import Detector
from lepton_perception.core.ground import GroundLocator
from lepton_perception.core.prediction.base import Predictor
from lepton_perception.core.tracking.base import Tracker
from lepton_perception.core.types import Detections, Frame, FrameResult, TrackState

# Any ``Tracker``; the parameter keeps the concrete type for callers that configure their trackers.
TrackerT = TypeVar("TrackerT", bound=Tracker)


@dataclass(frozen=True)
class DetectedBatch:
    """The detector's output for a batch of frames, in their order."""

    detections: list[Detections]
    detect_ms_per_frame: float  # the detector call's wall time, shared out over the batch


class Pipeline(Generic[TrackerT]):
    """Owns one tracker per camera (made by ``make_tracker``); the detector and predictor are shared
    across cameras."""

    def __init__(
        self,
        detector: Detector,
        make_tracker: Callable[[], TrackerT],
        predictor: Predictor | None = None,
    ) -> None:
        self.detector = detector
        self.predictor = predictor
        self._make_tracker = make_tracker
        self.trackers: dict[str, TrackerT] = {}

    def step(self, frame: Frame, locator: GroundLocator | None = None) -> FrameResult:
        return self.step_batch([frame], [locator])[0]

    def step_batch(
        self,
        frames: Sequence[Frame],
        locators: Sequence[GroundLocator | None],
        predict: Sequence[bool] | None = None,
    ) -> list[FrameResult]:
        """All frames go through the detector in one batch; tracking is per camera. ``predict``: per
        frame, whether its tracks get paths (None: all do); a frame whose paths nobody uses skips it."""
        return self.track_batch(frames, self.detect_batch(frames), locators, predict)

    def detect_batch(self, frames: Sequence[Frame]) -> DetectedBatch:
        """The detector's half of ``step_batch``: it touches no tracker, so a node may run it for the
        next frames while ``track_batch`` still works on the previous ones."""
        t0 = time.perf_counter()
        dets = self.detector.detect([f.image for f in frames]) if frames else []
        return DetectedBatch(dets, (time.perf_counter() - t0) * 1e3 / max(len(frames), 1))

    def track_batch(
        self,
        frames: Sequence[Frame],
        detected: DetectedBatch,
        locators: Sequence[GroundLocator | None],
        predict: Sequence[bool] | None = None,
    ) -> list[FrameResult]:
        """Tracking (and paths) of ``frames`` with their detections, in the order of ``frames``."""
        results = []
        wants_paths = [True] * len(frames) if predict is None else list(predict)
        for frame, det, locator, with_paths in zip(frames, detected.detections, locators, wants_paths):
            t1 = time.perf_counter()
            tracker = self.trackers.get(frame.camera)
            if tracker is None:
                tracker = self.trackers[frame.camera] = self._make_tracker()
            tracks = tracker.step(det, frame.stamp_s, locator)
            t2 = time.perf_counter()
            paths = []
            if self.predictor is not None and with_paths:
                live = [t for t in tracks if t.state in (TrackState.CONFIRMED, TrackState.COASTING)]
                paths = self.predictor.predict(live, frame.stamp_s)
            t3 = time.perf_counter()
            h, w = frame.image.shape[:2]
            results.append(
                FrameResult(
                    frame_id=frame.frame_id,
                    camera=frame.camera,
                    stamp_s=frame.stamp_s,
                    image_size=(w, h),
                    detections=det,
                    tracks=tracks,
                    paths=paths,
                    timings_ms={
                        "detect": detected.detect_ms_per_frame,
                        "track": (t2 - t1) * 1e3,
                        "predict": (t3 - t2) * 1e3,
                    },
                )
            )
        return results
