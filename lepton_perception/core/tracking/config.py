"""Tracker settings: one frozen dataclass whose fields carry their schema (``core/schema.py``)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from lepton_perception.core.schema import meta_of, param


@dataclass(frozen=True)
class TrackerConfig:
    # Detection scores (probabilities).
    high_score: float = param(
        0.7,
        "detections at or above this score take part in the first association stage",
        lo=0.0,
        hi=1.0,
        live=True,
    )
    low_score: float = param(
        0.1,
        "detections below this score are ignored; below high_score they only extend tracks",
        lo=0.0,
        hi=1.0,
        live=True,
    )
    birth_score: float = param(
        0.7, "an unmatched detection starts a track only at or above this score", lo=0.0, hi=1.0, live=True
    )
    # Gates, as minimum IoU.
    iou_gate: float = param(
        0.3, "minimum IoU, predicted box vs high-score detection (stage high)", lo=0.0, hi=1.0, live=True
    )
    low_iou_gate: float = param(
        0.5, "minimum IoU, predicted box vs low-score detection (stage low)", lo=0.0, hi=1.0, live=True
    )
    recovery_iou_gate: float = param(
        0.5,
        "minimum IoU, last observed box vs high-score detection (stage recovery)",
        lo=0.0,
        hi=1.0,
        live=True,
    )
    tentative_iou_gate: float = param(
        0.3,
        "minimum IoU, tentative track vs high-score detection (stage tentative)",
        lo=0.0,
        hi=1.0,
        live=True,
    )
    association_cost: Literal["iou", "hmiou"] = param(
        "iou", "cost of every stage: 1 - IoU, or 1 - IoU x height IoU (Hybrid-SORT)", live=True
    )
    fuse_score: Literal["none", "high", "all"] = param(
        "high",
        "score fusion (ByteTrack/BoT-SORT): which stages gate and rank IoU x detection score; 'high': "
        "the high-score stages, 'all': the low stage too",
        live=True,
    )
    buffer_ratio: float = param(
        0.3,
        "C-BIoU stage after recovery: predicted and detected boxes grown by this fraction of their size "
        "on every side; 0 = no such stage",
        lo=0.0,
        hi=2.0,
        live=True,
    )
    buffer_iou_gate: float = param(0.3, "minimum buffered IoU of the C-BIoU stage", lo=0.0, hi=1.0, live=True)
    # Lifecycle.
    min_hits: int = param(3, "matched detections to confirm a track", lo=1, hi=100, live=True)
    confirm_first_image: bool = param(
        True,
        "tracks born in the stream's first image are confirmed at once (ByteTrack / BoT-SORT; SORT and "
        "OC-SORT report every track of the first min_hits images): nothing can have been confirmed before; "
        "their ground state is published once they have min_hits matches",
        live=True,
    )
    ego_motion_compensation: bool = param(
        True,
        "with ego poses (odometry), move every track's predicted box by the image motion the vehicle's own "
        "motion causes between two images (a static object's foot carried through both poses, size by "
        "the depth ratio) before associating; without poses it does nothing",
        live=True,
    )
    max_coast_s: float = param(
        1.5, "a confirmed track unmatched this long is deleted", unit="s", lo=0.0, hi=60.0, live=True
    )
    max_tentative_gap_s: float = param(
        0.25,
        "a tentative track unmatched this long is deleted (longer than one frame interval: 0.25 s lets a "
        "new track miss one image at 10 Hz and confirm at 5 Hz)",
        unit="s",
        lo=0.0,
        hi=10.0,
        live=True,
    )
    confirm_consecutive: Literal["auto", "always", "never"] = param(
        "auto",
        "always: a tentative track must be matched in every image until it is confirmed (ByteTrack, "
        "BoT-SORT, OC-SORT, SORT): fewer blinking false positives, but an object the detector scores "
        "under high_score now and then confirms later; never: max_tentative_gap_s alone bounds the time "
        "between its matches; auto: always while the detector scores the confirmed tracks' detections "
        "consistently enough that it slows their confirmation by at most consecutive_max_delay_ratio",
        live=True,
    )
    consecutive_max_delay_ratio: float = param(
        1.25,
        "auto: consecutive confirmation while it makes the expected time to confirm an object, scored "
        "as the confirmed tracks' detections are, at most this many times longer",
        lo=1.0,
        hi=100.0,
        live=True,
    )
    low_stage_confident_only: bool = param(
        True,
        "the low-score stage extends only tracks at least half of whose matched detections scored "
        ">= high_score (median score confident): it carries confidently seen objects through a score "
        "dip; a track mostly matched by weak detections, typically a detector false positive, is not one",
        live=True,
    )
    low_stage_max_gap_s: float = param(
        0.0,
        "low-score detections only extend tracks unmatched for at most this long as of the previous "
        "image (0: matched in the previous image, ByteTrack's 'tracked' state), whatever the frame rate",
        unit="s",
        lo=0.0,
        hi=10.0,
        live=True,
    )
    # Observation-centric re-update (OC-SORT) after a gap.
    reupdate_min_gap_s: float = param(
        0.15,
        "a track re-found after a longer gap re-runs its filter over a virtual trajectory",
        unit="s",
        lo=0.0,
        hi=60.0,
        live=True,
    )
    reupdate_step_s: float = param(
        0.1, "spacing of the virtual observations of the re-update", unit="s", lo=0.001, hi=10.0, live=True
    )
    reupdate_max_steps: int = param(
        3, "at most this many virtual re-update steps (bounds the step time)", lo=1, hi=100, live=True
    )
    # Image-box Kalman filter; noises as fractions of the box height (boxes shrink with range).
    accel_noise_hps2: float = param(
        2.0,
        "box centre white-acceleration std (vehicles, unknown)",
        unit="box heights/s^2",
        lo=1e-3,
        hi=100.0,
        live=True,
    )
    pedestrian_accel_noise_hps2: float = param(
        1.0,
        "box centre white-acceleration std of pedestrians and cyclists",
        unit="box heights/s^2",
        lo=1e-3,
        hi=100.0,
        live=True,
    )
    size_accel_noise_hps2: float = param(
        2.0, "box width/height white-acceleration std", unit="box heights/s^2", lo=1e-3, hi=100.0, live=True
    )
    measurement_noise_h: float = param(
        0.03, "detection box coordinate std", unit="box heights", lo=1e-4, hi=1.0, live=True
    )
    initial_velocity_hps: float = param(
        1.0, "initial box-velocity std of a new track", unit="box heights/s", lo=1e-3, hi=100.0, live=True
    )
    # Ground-plane Kalman filter.
    foot_noise_h: float = param(
        0.03,
        "std of the box bottom-centre for the box-foot ground locator (at least the projector's)",
        unit="box heights",
        lo=1e-4,
        hi=1.0,
        live=True,
    )
    ground_accel_mps2: float = param(
        3.0,
        "ground white-acceleration std of vehicles and unknown objects",
        unit="m/s^2",
        lo=1e-3,
        hi=50.0,
        live=True,
    )
    pedestrian_accel_mps2: float = param(
        1.5,
        "ground white-acceleration std of pedestrians and cyclists",
        unit="m/s^2",
        lo=1e-3,
        hi=50.0,
        live=True,
    )
    initial_speed_mps: float = param(
        10.0, "initial ground-velocity std of a new track", unit="m/s", lo=1e-3, hi=100.0, live=True
    )
    history_s: float = param(
        8.0, "ground-plane history kept per track (for prediction)", unit="s", lo=0.0, hi=60.0, live=True
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            meta, value = meta_of(f), getattr(self, f.name)
            if isinstance(value, str):
                continue  # choices: checked by the parameter layer and by ``cascade``
            if not math.isfinite(value):
                raise ValueError(f"tracker.{f.name} must be finite, got {value}")
            if meta is None:
                continue
            lo = -math.inf if meta.lo is None else meta.lo
            hi = math.inf if meta.hi is None else meta.hi
            if not lo <= value <= hi:
                raise ValueError(f"tracker.{f.name} = {value} is outside [{meta.lo}, {meta.hi}]")
        if not 0.0 <= self.low_score <= self.high_score <= 1.0 or not 0.0 <= self.birth_score <= 1.0:
            raise ValueError(f"need 0 <= low_score <= high_score <= 1 and birth_score in [0, 1]: {self}")
        if self.min_hits < 1 or self.reupdate_max_steps < 1:
            raise ValueError(f"min_hits and reupdate_max_steps must be >= 1: {self}")
        times = (self.max_coast_s, self.max_tentative_gap_s, self.low_stage_max_gap_s, self.history_s)
        if min(times) < 0.0 or self.reupdate_step_s <= 0.0:
            raise ValueError(f"time spans must be >= 0 (reupdate_step_s > 0): {self}")
