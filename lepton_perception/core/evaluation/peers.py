"""Trackers measured side by side on the same detections, behind one small interface.

``lepton`` is ours. The peers run motion only (no ReID, no camera-motion compensation: the shared
data has detections, not images), each built from one row of a settings table:

- ``PUBLISHED`` (the default): the thresholds the authors publish in their papers / official repos,
  frame-counted buffers at the sequence's true frame rate where the official code scales them;
- ``BOXMOT_DEFAULTS``: boxmot 25.0.0's own defaults (its ``configs/trackers/*.yaml``, which its
  ``create_tracker`` uses; the classes' constructor defaults differ and are weaker), the settings
  ``../shared/README.md``'s reference figures were measured with.

Implementations: ``sort`` is ``evaluation.sort``; ``bytetrack``, ``ocsort``, ``botsort`` are boxmot's
classes; ``cbiou`` is the Apache-2.0 ``trackers`` package's C-BIoU (buffered IoU, a method boxmot
lacks). boxmot and trackers are imported lazily: evaluation-only dependencies
(``requirements-eval.txt``).

Every tracker is given a recording's classes together (``ImageTracker``). The peers run one instance
per class, as their authors run KITTI; ours runs one tracker for all of them, as the node does for a
camera.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from lepton_perception.core.evaluation.sort import Sort
from lepton_perception.core.tracking import MultiObjectTracker, TrackerConfig
from lepton_perception.core.types import Detections, Track, TrackState

F64 = npt.NDArray[np.float64]
Setting = float | int | bool | str


class BoxTracker(Protocol):
    """Per-frame detections of one class -> (M, 5) rows [x1, y1, x2, y2, track_id] to report now."""

    def update(self, boxes: F64, scores: F64, stamp_s: float) -> F64: ...


# One image's detections: COCO class id -> ((N, 4) xyxy px boxes, (N,) scores).
Frame = Mapping[int, tuple[F64, F64]]


class ImageTracker(Protocol):
    """Every class's detections of one image -> per class id, (M, 5) rows [x1, y1, x2, y2, track_id]
    to report now. The harness gives every tracker a recording's classes together; how a tracker
    splits them is its own (``PerClass`` for the peers, one ``MultiObjectTracker`` for ours)."""

    def update(self, frame: Frame, stamp_s: float) -> dict[int, F64]: ...


BoxTrackerFactory = Callable[[int, float], BoxTracker]  # (COCO class id, frame rate Hz): one class
TrackerFactory = Callable[[Sequence[int], float], ImageTracker]  # (COCO class ids, frame rate Hz)


class PerClass:
    """One single-class tracker per class, as the peers' authors run KITTI (a run per class)."""

    def __init__(self, trackers: Mapping[int, BoxTracker]) -> None:
        self.trackers = dict(trackers)

    def update(self, frame: Frame, stamp_s: float) -> dict[int, F64]:
        return {c: t.update(*frame[c], stamp_s) for c, t in self.trackers.items()}


def per_class(factory: BoxTrackerFactory) -> TrackerFactory:
    return lambda classes, rate_hz: PerClass({c: factory(c, rate_hz) for c in classes})


@dataclass(frozen=True)
class PeerSpec:
    """One peer: which implementation, with which settings, and where the values come from.

    ``settings`` are the implementation's constructor arguments (frame counts are frames at 30 fps
    where the implementation scales them by ``frame_rate``, which the harness sets to the sequence's
    true rate), except ``new_track_thresh`` for boxmot ByteTrack, which the adapter applies (see
    ``_bytetrack``)."""

    label: str
    implementation: str
    settings: Mapping[str, Setting]
    source: str


class LeptonTracker:
    """Ours as the node runs it: one ``MultiObjectTracker`` for every class of a camera. Association
    is class-gated, so classes share no matches; they share what the tracker learns of the detector
    (``TrackerConfig.confirm_consecutive`` "auto" estimates its consistency from every confirmed
    track; docs/tracking.md)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.tracker = MultiObjectTracker(config)

    def update(self, frame: Frame, stamp_s: float) -> dict[int, F64]:
        tracks = self.reported(frame, stamp_s)
        rows = {c: [np.append(t.box, t.track_id) for t in tracks if t.class_id == c] for c in frame}
        return {c: np.array(r, dtype=np.float64).reshape(-1, 5) for c, r in rows.items()}

    def reported(self, frame: Frame, stamp_s: float) -> list[Track]:
        """The tracks the evaluations score for one image: confirmed and matched in it."""
        classes = list(frame)
        dets = Detections(
            np.concatenate([frame[c][0].reshape(-1, 4) for c in classes]).astype(np.float32),
            np.concatenate([frame[c][1].reshape(-1) for c in classes]).astype(np.float32),
            np.concatenate([np.full(len(frame[c][1]), c, np.int64) for c in classes]),
        )
        return [t for t in self.tracker.step(dets, stamp_s) if t.state == TrackState.CONFIRMED]


class SortTracker:
    def __init__(self, max_age: int = 1, min_hits: int = 3, iou_threshold: float = 0.3) -> None:
        self.sort = Sort(max_age, min_hits, iou_threshold)

    def update(self, boxes: F64, scores: F64, stamp_s: float) -> F64:
        return self.sort.update(boxes)


class BoxmotTracker:
    """Wraps a boxmot tracker object (its ``update`` takes (N, 6) [x1, y1, x2, y2, conf, cls]).

    Fixed-step prediction (boxmot's default, as in the papers): one ``update`` per image."""

    def __init__(self, tracker: Any, coco_class: int) -> None:
        self.tracker = tracker
        self.coco_class = coco_class

    def update(self, boxes: F64, scores: F64, stamp_s: float) -> F64:
        dets = np.concatenate([boxes, scores[:, None], np.full((len(scores), 1), self.coco_class)], axis=1)
        out = np.asarray(self.tracker.update(dets.reshape(-1, 6), None))
        return out[:, :5].astype(np.float64).reshape(-1, 5) if out.size else np.zeros((0, 5))


class RoboflowTracker:
    """Wraps a ``trackers`` (roboflow) tracker: supervision ``Detections`` in, rows with a track id out.

    Frame-step mode (no timestamps), as its published settings are frame counts; rows the tracker
    returns without an id (unmatched low-score detections, tentative tracks) are not tracks."""

    def __init__(self, tracker: Any) -> None:
        import supervision as sv

        self.tracker = tracker
        self._sv = sv

    def update(self, boxes: F64, scores: F64, stamp_s: float) -> F64:
        dets = self._sv.Detections(xyxy=boxes.reshape(-1, 4).astype(np.float32), confidence=scores)
        out = self.tracker.update(dets)
        ids = np.asarray(out.tracker_id, dtype=np.float64).reshape(-1)
        rows = np.concatenate([np.asarray(out.xyxy, dtype=np.float64).reshape(-1, 4), ids[:, None]], axis=1)
        return rows[ids >= 0]


# Settings the authors publish. ByteTrack, BoT-SORT and C-BIoU publish MOT17-style settings only (no
# KITTI run), OC-SORT ran KITTI with its defaults (tools/run_ocsort_public.py).
PUBLISHED: dict[str, PeerSpec] = {
    "sort": PeerSpec(
        "SORT",
        "evaluation/sort.py",
        {"max_age": 1, "min_hits": 3, "iou_threshold": 0.3},
        "Bewley et al. 2016; abewley/sort sort.py defaults",
    ),
    "bytetrack": PeerSpec(
        "ByteTrack (boxmot)",
        "boxmot 25.0.0 ByteTrack",
        {"track_thresh": 0.6, "min_conf": 0.1, "match_thresh": 0.8, "track_buffer": 30},
        "Zhang et al. ECCV 2022: high 0.6, low 0.1, IoU < 0.2 rejected (match_thresh 0.8), 30-frame "
        "buffer, new tracks from unmatched high-score boxes (Algorithm 1); ifzhang/ByteTrack's MOT17 "
        "script uses match 0.9 and births at 0.7",
    ),
    "ocsort": PeerSpec(
        "OC-SORT (boxmot)",
        "boxmot 25.0.0 OcSort",
        {
            "det_thresh": 0.6,
            "iou_threshold": 0.3,
            "min_hits": 3,
            "max_age": 30,
            "delta_t": 3,
            "inertia": 0.2,
            "asso_func": "iou",
            "use_byte": False,
        },
        "noahcao/OC_SORT utils/args.py defaults, used for its KITTI run (tools/run_ocsort_public.py)",
    ),
    "botsort": PeerSpec(
        "BoT-SORT (boxmot)",
        "boxmot 25.0.0 BotSort",
        {
            "track_high_thresh": 0.6,
            "track_low_thresh": 0.1,
            "new_track_thresh": 0.7,
            "match_thresh": 0.8,
            "track_buffer": 30,
            "fuse_first_associate": True,
            "second_match_thresh": 0.5,
            "unconfirmed_match_thresh": 0.7,
            "use_embeddings": False,
            "use_cmc": False,
        },
        "NirAharon/BoT-SORT tools/track.py (high 0.6, low 0.1, new 0.7, match 0.8, buffer 30) and "
        "tracker/bot_sort.py (score fusion off MOT20, second stage 0.5, unconfirmed 0.7); no ReID, no CMC",
    ),
    "cbiou": PeerSpec(
        "C-BIoU (trackers)",
        "trackers 2.6.1 CBIoUTracker",
        {
            "high_conf_det_threshold": 0.6,
            "track_activation_threshold": 0.7,
            "minimum_iou_threshold_first_assoc": 0.2,
            "minimum_iou_threshold_second_assoc": 0.5,
            "minimum_iou_threshold_unconfirmed_assoc": 0.3,
            "buffer_ratio_first": 0.3,
            "buffer_ratio_second": 0.5,
            "lost_track_buffer": 30,
            "minimum_consecutive_frames": 2,
        },
        "Yang et al. WACV 2023 (cascaded buffers b1 0.3 < b2 0.5) as trackers 2.6.1 ships them "
        "(its defaults, ByteTrack thresholds)",
    ),
}


def _boxmot_defaults(name: str, **motion_only: Setting) -> dict[str, Setting]:
    from boxmot.trackers.config import load_tracker_config

    settings = load_tracker_config(name, None, {})
    # Frame rate comes from the sequence; timing and Kalman-noise entries are boxmot's fixed-step
    # defaults either way.
    for key in [k for k in settings if k == "frame_rate" or k.startswith("kf_") or k == "variable_dt"]:
        del settings[key]
    return {**settings, **motion_only}


def boxmot_defaults() -> dict[str, PeerSpec]:
    """boxmot 25.0.0's yaml defaults (what its ``create_tracker`` builds); needs boxmot installed."""
    source = "boxmot 25.0.0 configs/trackers/{}.yaml defaults"
    return {
        "sort": PUBLISHED["sort"],
        "bytetrack": PeerSpec(
            "ByteTrack (boxmot)",
            "boxmot 25.0.0 ByteTrack",
            _boxmot_defaults("bytetrack"),
            source.format("bytetrack"),
        ),
        "ocsort": PeerSpec(
            "OC-SORT (boxmot)", "boxmot 25.0.0 OcSort", _boxmot_defaults("ocsort"), source.format("ocsort")
        ),
        "botsort": PeerSpec(
            "BoT-SORT (boxmot)",
            "boxmot 25.0.0 BotSort",
            _boxmot_defaults("botsort", use_embeddings=False, use_cmc=False),
            source.format("botsort") + "; no ReID, no CMC",
        ),
        "cbiou": PUBLISHED["cbiou"],
    }


PROFILES: dict[str, Callable[[], dict[str, PeerSpec]]] = {
    "published": lambda: PUBLISHED,
    "boxmot-defaults": boxmot_defaults,
}

# The KITTI training sequences the README figures are over (the shared ones).
README_SEQUENCES = ("0000", "0002", "0003", "0004", "0005", "0007", "0009", "0011", "0017", "0020")
# ../shared/README.md reference figures (boxmot 25.0.0 defaults, trackeval 1.3.0, Kitti2DBox, 10 Hz):
# tracker -> class -> (HOTA, IDF1).
README_REFERENCE: dict[str, dict[str, tuple[float, float]]] = {
    "sort": {"car": (64.96, 79.51), "pedestrian": (36.19, 55.28)},
    "bytetrack": {"car": (66.93, 82.76), "pedestrian": (37.95, 56.65)},
    "ocsort": {"car": (69.45, 82.93), "pedestrian": (38.37, 61.05)},
    "botsort": {"car": (70.32, 84.18), "pedestrian": (37.48, 55.39)},
}


def _quiet_boxmot() -> None:
    """boxmot logs every tracker construction at INFO (its import resets the level); keep our output
    readable."""
    logging.getLogger("boxmot").setLevel(logging.WARNING)


def _kwargs(spec: PeerSpec) -> dict[str, Any]:
    """The spec's settings as constructor keyword arguments (each implementation checks their types)."""
    return dict(spec.settings)


def _sort(spec: PeerSpec, coco_class: int, rate_hz: float) -> BoxTracker:
    return SortTracker(**_kwargs(spec))


def _bytetrack(spec: PeerSpec, coco_class: int, rate_hz: float) -> BoxTracker:
    from boxmot.trackers.box.bytetrack.tracker import ByteTrack

    _quiet_boxmot()
    settings = _kwargs(spec)
    new_track_thresh = settings.pop("new_track_thresh", None)
    tracker = ByteTrack(**settings, frame_rate=round(rate_hz))
    if new_track_thresh is not None:
        # Official ByteTrack starts tracks at track_thresh + 0.1; boxmot's class uses track_thresh and
        # has no argument for it, so set the attribute its birth step reads.
        tracker.det_thresh = float(new_track_thresh)
    return BoxmotTracker(tracker, coco_class)


def _ocsort(spec: PeerSpec, coco_class: int, rate_hz: float) -> BoxTracker:
    from boxmot.trackers.box.ocsort.tracker import OcSort

    # OC-SORT counts max_age in frames, unscaled by the frame rate (as in its official KITTI run).
    _quiet_boxmot()
    tracker = OcSort(**_kwargs(spec))
    return BoxmotTracker(tracker, coco_class)


def _botsort(spec: PeerSpec, coco_class: int, rate_hz: float) -> BoxTracker:
    from boxmot.trackers.box.botsort.tracker import BotSort

    _quiet_boxmot()
    tracker = BotSort(**_kwargs(spec), frame_rate=round(rate_hz))
    return BoxmotTracker(tracker, coco_class)


def _cbiou(spec: PeerSpec, coco_class: int, rate_hz: float) -> BoxTracker:
    from trackers import CBIoUTracker

    return RoboflowTracker(CBIoUTracker(**_kwargs(spec), frame_rate=rate_hz))


BUILDERS: dict[str, Callable[[PeerSpec, int, float], BoxTracker]] = {
    "sort": _sort,
    "bytetrack": _bytetrack,
    "ocsort": _ocsort,
    "botsort": _botsort,
    "cbiou": _cbiou,
}


def peer_factory(name: str, spec: PeerSpec) -> BoxTrackerFactory:
    """One class's tracker of peer ``name`` with ``spec``'s settings."""
    build = BUILDERS[name]
    return lambda coco_class, rate_hz: build(spec, coco_class, rate_hz)


def make_factories(
    config: TrackerConfig | None = None, profile: str = "published"
) -> dict[str, TrackerFactory]:
    """All trackers, ours first, keyed by the name used in reports; peers with ``profile``'s settings."""
    if profile not in PROFILES:
        raise ValueError(f"unknown peer settings {profile!r}; known: {list(PROFILES)}")
    ours: TrackerFactory = lambda classes, rate_hz: LeptonTracker(config)  # noqa: E731
    specs = PROFILES[profile]()
    return {"lepton": ours, **{name: per_class(peer_factory(name, spec)) for name, spec in specs.items()}}


def settings_table(specs: Mapping[str, PeerSpec]) -> str:
    """Markdown table of the peers' settings (docs/tracking.md holds the published one verbatim)."""
    lines = ["| peer | implementation | settings | source |", "|---|---|---|---|"]
    for spec in specs.values():
        settings = ", ".join(f"`{k}={v}`" for k, v in spec.settings.items())
        lines.append(f"| {spec.label} | {spec.implementation} | {settings} | {spec.source} |")
    return "\n".join(lines)
