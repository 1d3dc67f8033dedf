"""Core data types, in SI units with stamps in seconds. No ROS imports here.

Data flows one way: ``Frame`` -> ``Detections`` -> ``Track`` -> ``PredictedPath`` -> messages.
Image boxes are ``[x1, y1, x2, y2]`` in original image pixels; ground positions are metres in the
target frame (x forward, y left, as ROS REP 103 ``base_link``); velocities are m/s.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Category(enum.IntEnum):
    """What planning needs to know about an object (the COCO class is kept beside it)."""

    UNKNOWN = 0
    PEDESTRIAN = 1
    CYCLIST = 2
    VEHICLE = 3


# COCO class id -> (name, planning category). Classes not listed are dropped by the detector.
COCO_CLASSES: dict[int, tuple[str, Category]] = {
    0: ("person", Category.PEDESTRIAN),
    1: ("bicycle", Category.CYCLIST),
    2: ("car", Category.VEHICLE),
    3: ("motorcycle", Category.VEHICLE),
    5: ("bus", Category.VEHICLE),
    7: ("truck", Category.VEHICLE),
}


def category_of(class_id: int) -> Category:
    entry = COCO_CLASSES.get(int(class_id))
    return entry[1] if entry else Category.UNKNOWN


def class_name(class_id: int) -> str:
    entry = COCO_CLASSES.get(int(class_id))
    return entry[0] if entry else f"coco_{int(class_id)}"


@dataclass(frozen=True)
class Frame:
    """One camera image entering the pipeline."""

    image: npt.NDArray[np.uint8]  # (H, W, 3) BGR
    stamp_s: float  # source image stamp, seconds
    frame_id: str  # optical frame of the camera that took it
    camera: str = "camera"  # camera name / namespace, keys per-camera tracker state


@dataclass(frozen=True)
class Detections:
    """Detections of one image as parallel arrays (N rows)."""

    boxes: npt.NDArray[np.float32]  # (N, 4) x1, y1, x2, y2 in original image pixels
    scores: npt.NDArray[np.float32]  # (N,) in [0, 1]
    class_ids: npt.NDArray[np.int64]  # (N,) COCO class id

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.boxes.shape != (n, 4) or self.class_ids.shape != (n,):
            raise ValueError(
                f"Detections arrays disagree: boxes {self.boxes.shape}, scores {self.scores.shape}, "
                f"class_ids {self.class_ids.shape}"
            )

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64))

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def categories(self) -> npt.NDArray[np.int64]:
        return np.array([category_of(c) for c in self.class_ids], dtype=np.int64)

    def select(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> Detections:
        return Detections(self.boxes[mask], self.scores[mask], self.class_ids[mask])


class TrackState(enum.IntEnum):
    TENTATIVE = 0  # not yet confirmed: not published to planning
    CONFIRMED = 1  # matched recently
    COASTING = 2  # confirmed but unmatched now; predicted forward until max coast time
    DELETED = 3


@dataclass(frozen=True)
class GroundState:
    """Position and velocity on the road plane in the target frame."""

    position_m: npt.NDArray[np.float64]  # (2,) x, y
    velocity_mps: npt.NDArray[np.float64]  # (2,) vx, vy
    covariance: npt.NDArray[np.float64]  # (4, 4) over [x, y, vx, vy], m and m/s


@dataclass(frozen=True)
class Track:
    """A snapshot of one tracked object at ``stamp_s`` (the tracker owns the mutable state)."""

    track_id: int  # unique within one tracker instance
    class_id: int  # COCO class id (majority vote over matched detections)
    state: TrackState
    box: npt.NDArray[np.float32]  # (4,) filtered image box, x1, y1, x2, y2 px
    box_velocity_pxps: npt.NDArray[np.float32]  # (2,) image-space centre velocity, px/s
    score: float  # score of the last matched detection
    stamp_s: float
    age_s: float  # time since first detection
    hits: int  # number of matched detections
    time_since_update_s: float
    ground: GroundState | None = None  # None when no camera model is known
    # Ground-plane history for prediction: (K, 3) rows of [stamp_s, x_m, y_m], oldest first.
    history: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 3)))

    @property
    def category(self) -> Category:
        return category_of(self.class_id)


@dataclass(frozen=True)
class PredictedPath:
    """Future positions of one track; ``times_s`` are absolute (same clock as the stamps)."""

    track_id: int
    times_s: npt.NDArray[np.float64]  # (T,)
    positions_m: npt.NDArray[np.float64]  # (T, 2) x, y in the target frame
    confidence: float  # probability of this hypothesis, in [0, 1]
    predictor: str  # which model made it: "rnn", "cv", "ctrv", ...


@dataclass(frozen=True)
class FrameResult:
    """Everything the pipeline produced for one frame."""

    frame_id: str
    camera: str
    stamp_s: float
    image_size: tuple[int, int]  # (width, height) px
    detections: Detections
    tracks: list[Track]
    paths: list[PredictedPath]
    timings_ms: dict[str, float]  # per stage: "detect", "track", "predict"
