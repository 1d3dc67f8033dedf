"""Messages in -> pipeline -> messages out, with no ROS graph.

The live node and the offline ``lepton process`` both drive this class, so a bag gives the same tracks
either way. The runner owns all perception state (config, pipeline, per-camera state and counters):
callers convert, call and publish. Every per-frame failure is handled here, in one place
(``_guarded``), as a counted, rate-limited-logged skip with its reason; the next frame goes on.

Threads: ``process`` runs on one worker thread, or its two halves on two: ``detect`` (decode and
detector; it owns the detector) for the next batch while ``finish`` (stamps, trackers, paths, messages;
it owns trackers and world state) works on the previous one, never two of the same at once.
``set_camera_info``, ``apply_config``, ``count``, ``diagnostics`` and ``health`` may be called from any
other thread; they touch shared state only under ``_lock`` (``HealthMonitor`` has its own).

Health: the runner reports what happens (images in, decode errors, CameraInfo accepted or rejected,
frame failures, detector faults, worker heartbeat) to one ``core.health.HealthMonitor``; ``health()``
evaluates it over its sliding window (thresholds: ``NodeConfig.health``).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from autoware_perception_msgs.msg import PredictedObjects, TrackedObjects
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray
from visualization_msgs.msg import MarkerArray

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.core.detection import Detector, DetectorConfig, create_detector
from lepton_perception.core.ground import FusedGroundLocator
from lepton_perception.core.health import HealthMonitor, HealthStatus, Value
from lepton_perception.core.pipeline import DetectedBatch, Pipeline
from lepton_perception.core.prediction.base import Predictor
from lepton_perception.core.prediction.predictor import RoutedPredictor
from lepton_perception.core.tracking.tracker import MultiObjectTracker
from lepton_perception.core.types import Detections, Frame, FrameResult
from lepton_perception.core.visualize import draw_result
from lepton_perception.ros import conversions as conv
from lepton_perception.ros.ego import FUSED_KEY, WorldSnapshot, WorldState
from lepton_perception.ros.extrinsics import CameraExtrinsics
from lepton_perception.ros.image_codec import ImageDecodeError
from lepton_perception.ros.params import NodeConfig, camera_key
from lepton_perception.ros.topics import OUTPUT_TOPICS, OutputTopic

log = logging.getLogger(__name__)
T = TypeVar("T")
LOG_EVERY_S = 5.0  # a repeated failure of one kind on one camera is logged at most this often
LATENCY_WINDOW = 200  # frames kept for latency percentiles
# Outputs built only when someone listens (``process(wanted=...)``): the viewers' ones and the per-camera
# planning lists. Detections and the fused planning lists (what planners use) always are.
OPTIONAL_OUTPUTS = ("annotated_image", "markers", "tracked_objects", "predicted_objects")
# Per-camera outputs that show predicted paths: without any of them wanted, the camera's tracks are not
# predicted (the fused list gets its own paths).
PATH_OUTPUTS = ("predicted_objects", "markers", "annotated_image")
DETECTOR_STAGES = ("preprocess", "inference", "postprocess")
# The cycle of one frame, in order: message -> image, detector, tracker, predictor, messages, the fused
# list of the batch (fusion, its predictions and messages), publish.
STAGES = ("convert", *DETECTOR_STAGES, "track", "predict", "build", "fuse", "publish")


# --- typed outputs -----------------------------------------------------------------------------------
@dataclass
class FrameMessages:
    """Everything one processed frame publishes. ``None``: not published for this frame.

    ``tracked_objects`` / ``predicted_objects`` are ``None`` when nobody listens to them, and (withheld)
    when the camera has no valid intrinsics: an empty list would tell a planner "nothing there" while
    the camera cannot place objects.
    A camera's frame fills the per-camera fields (and its markers); the fused list of all cameras
    (``PerceptionRunner.fuse``) fills ``objects``, ``fused_tracked_objects`` and its markers.
    """

    detections: Detection2DArray | None = None
    tracked_objects: TrackedObjects | None = None
    predicted_objects: PredictedObjects | None = None
    annotated_image: Image | None = None
    markers: MarkerArray | None = None
    objects: PredictedObjects | None = None  # fused list, world frame
    fused_tracked_objects: TrackedObjects | None = None  # fused list, world frame

    def items(self) -> Iterator[tuple[OutputTopic, object]]:
        """(topic of the table, message) for every message to publish, in table order."""
        for topic in OUTPUT_TOPICS:
            msg = getattr(self, topic.field)
            if msg is not None:
                yield topic, msg


@dataclass
class CameraOutput:
    """What one camera's frame produced, or why it was skipped (a counter name)."""

    key: str
    result: FrameResult | None
    messages: FrameMessages | None
    skipped: str | None = None


@dataclass
class CameraInput:
    """One camera's frame after the detector's half of a batch (``PerceptionRunner.detect``)."""

    key: str
    msg: Image | CompressedImage
    frame: Frame | None = None  # None: skipped before tracking (``skipped`` says why, already counted)
    skipped: str | None = None
    detections: Detections | None = None
    convert_ms: float = 0.0  # the message -> image decode


@dataclass
class DetectedInputs:
    """A batch between ``PerceptionRunner.detect`` and ``PerceptionRunner.finish``."""

    inputs: list[CameraInput]
    detect_ms_per_frame: float = 0.0  # the detector call's wall time over the frames it ran on
    detector_ms: dict[str, float] = field(default_factory=dict)  # its split (DETECTOR_STAGES), per frame

    @property
    def keys(self) -> list[str]:
        return [i.key for i in self.inputs]


@dataclass
class CameraState:
    key: str
    namespace: str
    intrinsics: CameraIntrinsics | None = None
    camera_info_problem: str = ""  # why the last CameraInfo was rejected ("" = none rejected)
    projector: GroundProjector | None = None
    locator: FusedGroundLocator | None = None  # one per camera: it keeps an online horizon estimate
    last_stamp_ns: int | None = None
    epoch_ns: int = 0  # stamp of the first frame of the current tracker: makes track UUIDs unique
    marker_ids: set[int] = field(default_factory=set)
    extrinsics_source: str = ""  # "tf_static" or "parameters" once a frame was processed
    mount: CameraPose | None = None  # the extrinsics for the frame being processed
    last_input_wall_s: float | None = None  # time.monotonic() of the last frame handed in
    # frames_in, processed, detections, decode_errors, frame_errors, duplicate_stamps,
    # reordered_dropped, time_jumps_back, invalid_stamps, camera_info_received, camera_info_errors,
    # planning_withheld, stale_skipped (the node's keep-latest slot)
    counters: Counter[str] = field(default_factory=Counter)
    latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    # per processed frame, ms: STAGES (the detector's split when it reports one, else "detect")
    stage_ms: dict[str, deque[float]] = field(default_factory=dict)

    def add_stage(self, stage: str, ms: float) -> None:
        """Record one frame's time in ``stage`` (call with the runner's lock held)."""
        self.stage_ms.setdefault(stage, deque(maxlen=LATENCY_WINDOW)).append(ms)


@dataclass(frozen=True)
class CameraSnapshot:
    """A consistent copy of one camera's state for diagnostics (see ``PerceptionRunner.diagnostics``)."""

    key: str
    totals: dict[str, int]  # counters since start
    window: dict[str, int]  # counters since the previous diagnostics() call
    window_s: float  # wall-clock length of that window
    camera_info_ok: bool
    camera_info_problem: str
    input_age_s: float | None  # seconds since the last frame arrived (None: never)
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    latency_ms_max: float | None
    stage_ms_mean: dict[str, float]  # over the last LATENCY_WINDOW processed frames


@dataclass(frozen=True)
class RunnerDiagnostics:
    cameras: dict[str, CameraSnapshot]
    detector: str  # "name/device"
    detector_faults: int  # detector failures since start (CUDA errors, exceptions)
    cpu_fallbacks: int  # times the detector was rebuilt on the CPU after a device fault
    last_failure: str  # reason of the latest per-frame failure ("" if none)
    heartbeat_age_s: float  # seconds since the worker last finished a batch or woke up idle
    predictor_fallbacks: dict[str, int]
    # Tracking frame, odometry state and counters; batches whose fused list was lost to an exception.
    world: WorldSnapshot = field(default_factory=lambda: WorldSnapshot("base_link", "no odometry", {}))
    fusion_errors: int = 0


def _camera_values(cam: CameraState) -> list[tuple[str, Value]]:
    """Counters since start and recent stage timings of one camera (call with the runner's lock)."""
    out: list[tuple[str, Value]] = [(f"{k}_total", n) for k, n in sorted(cam.counters.items())]
    if cam.extrinsics_source:
        out.append(("extrinsics", cam.extrinsics_source))
    out += [(f"{stage}_ms_p50", float(np.median(v))) for stage, v in cam.stage_ms.items() if v]
    if cam.latency_ms:
        out.append(("latency_p50_ms", float(np.percentile(np.asarray(cam.latency_ms), 50))))
    return out


class _RateLimitedLog:
    """At most one warning per (camera, reason) every LOG_EVERY_S; says how many were held back."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def warning(self, key: str, reason: str, text: str) -> None:
        now = time.monotonic()
        last, held = self._last.get((key, reason), (-1e9, 0))
        if now - last < LOG_EVERY_S:
            self._last[(key, reason)] = (last, held + 1)
            return
        more = f" ({held} more like this since the last message)" if held else ""
        log.warning("camera %s: %s%s", key, text, more)
        self._last[(key, reason)] = (now, 0)


def _detector_stages(detector: Detector, n_frames: int) -> dict[str, float]:
    """Per-frame share (ms) of the detector's preprocess / inference / postprocess in its last call.

    Read from ``detector.last_timings_ms`` (an object with those three attributes, ms for the whole
    batch) when the backend reports it; {} otherwise (the pipeline's whole-call ``detect`` is kept).
    """
    timings = getattr(detector, "last_timings_ms", None)
    if timings is None:
        return {}
    n = max(n_frames, 1)
    return {stage: float(getattr(timings, stage)) / n for stage in DETECTOR_STAGES}


def _is_device_fault(exc: BaseException) -> bool:
    """CUDA errors (out of memory, no device, driver) that a CPU detector would not have."""
    text = f"{type(exc).__name__} {exc}".lower()
    return any(s in text for s in ("cuda", "out of memory", "outofmemory", "cudnn", "gpu"))


def _on_cpu(config: DetectorConfig) -> DetectorConfig:
    """The same detector settings on the CPU (half precision exists only on CUDA)."""
    precision = "fp32" if config.precision == "fp16" else config.precision
    return dataclasses.replace(config, device="cpu", precision=precision)


class PerceptionRunner:
    def __init__(
        self,
        config: NodeConfig,
        detector: Detector | None = None,
        predictor: Predictor | None = None,
        detector_factory: Callable[[DetectorConfig], Detector] = create_detector,
    ) -> None:
        self.config = config
        self._detector_factory = detector_factory
        self._faults = Counter[str]()
        self.detector = detector or self._start_detector(config.detector)
        self._filter_config = config.detector  # the detector's filter settings (``detect`` owns them)
        self.predictor = predictor or RoutedPredictor(config.predictor)
        self.pipeline = Pipeline(
            self.detector, lambda: MultiObjectTracker(self.config.tracker), self.predictor
        )
        self.cameras = {camera_key(ns): CameraState(camera_key(ns), ns) for ns in config.io.cameras}
        self._lock = threading.Lock()
        self._pending_config: NodeConfig | None = None
        self._reset_requests: set[str] = set()
        self._window_base: dict[str, Counter[str]] = {k: Counter() for k in self.cameras}
        self._window_wall = time.monotonic()
        self._heartbeat = time.monotonic()
        self._log = _RateLimitedLog()
        self._last_failure = ""
        # Ego poses (odometry) and the one fused object list of all cameras (docs/world.md).
        self.world = WorldState(
            vehicle_frame=config.io.target_frame, prediction_rate_hz=config.world.prediction_rate_hz
        )
        # Camera mounts from /tf_static when published, else the camera_poses.* parameters.
        self.extrinsics = CameraExtrinsics(vehicle_frame=config.io.target_frame)
        self._wanted: Mapping[str, Collection[str]] | None = None  # of the batch being processed
        self.monitor = self._start_monitor(config)

    def _start_monitor(self, config: NodeConfig) -> HealthMonitor:
        monitor = HealthMonitor(list(self.cameras), config.health, time.monotonic())
        if config.io.fallback_hfov_deg > 0:  # read-only parameter: positions from an assumed FOV
            for key in self.cameras:
                monitor.set_fallback_fov(key)
        if self._faults["cpu_fallbacks"]:
            monitor.set_detector_degraded(f"configured device {config.detector.device} unusable: on cpu")
        return monitor

    def _start_detector(self, config: DetectorConfig) -> Detector:
        """The configured detector; if its device is unusable (no CUDA, out of memory), the CPU one."""
        try:
            return self._detector_factory(config)
        except Exception as exc:
            if config.device == "cpu" or not _is_device_fault(exc):
                raise
            log.error("detector on %s unavailable (%s); starting on the CPU", config.device, exc)
            self._faults.update(["detector_faults", "cpu_fallbacks"])
            return self._detector_factory(_on_cpu(config))

    # --- calls from other threads ------------------------------------------------------------------
    def apply_config(self, config: NodeConfig) -> None:
        """Use ``config`` (already validated) from the next batch on: filters and tracker settings."""
        with self._lock:
            self._pending_config = config

    def reset_camera(self, key: str) -> None:
        """Drop the camera's tracks before its next frame (e.g. a bag looped)."""
        with self._lock:
            self._reset_requests.add(key)

    def count(self, key: str, counter: str, n: int = 1) -> None:
        """Count an event seen outside the runner (e.g. a frame replaced in the node's slot)."""
        with self._lock:
            self.cameras[key].counters[counter] += n
        if counter == "stale_skipped":  # received, then replaced by a newer one before processing
            now = time.monotonic()
            for _ in range(n):
                self.monitor.on_image(key, now)

    def set_camera_info(self, key: str, msg: CameraInfo) -> None:
        try:
            intr = conv.camera_info_to_intrinsics(msg)
            problem = ""
        except ValueError as exc:
            intr, problem = None, str(exc)
        with self._lock:
            cam = self.cameras[key]
            cam.counters["camera_info_received"] += 1
            if intr is None:
                cam.counters["camera_info_errors"] += 1
                cam.camera_info_problem = problem
            else:
                cam.intrinsics, cam.camera_info_problem = intr, ""
        self.monitor.on_camera_info(key, accepted=intr is not None, reason=problem)
        if intr is None:
            self._log.warning(key, "camera_info", f"ignoring CameraInfo: {problem}")

    def has_intrinsics(self, key: str) -> bool:
        with self._lock:
            return self.cameras[key].intrinsics is not None

    def diagnostics(self) -> RunnerDiagnostics:
        """A consistent snapshot; counters in ``window`` restart at every call (one diagnostics period)."""
        now = time.monotonic()
        with self._lock:
            cams = {key: self._snapshot(cam, now) for key, cam in self.cameras.items()}
            self._window_wall = now
            heartbeat = now - self._heartbeat
            faults = dict(self._faults)
            last_failure = self._last_failure
        return RunnerDiagnostics(
            cameras=cams,
            detector=f"{self.detector.name}/{self.detector.device}",
            detector_faults=faults.get("detector_faults", 0),
            cpu_fallbacks=faults.get("cpu_fallbacks", 0),
            last_failure=last_failure,
            heartbeat_age_s=heartbeat,
            predictor_fallbacks=self.predictor.fallback_counts()
            if isinstance(self.predictor, RoutedPredictor)
            else {},
            world=self.world.snapshot(),
            fusion_errors=faults.get("fusion_errors", 0),
        )

    def _snapshot(self, cam: CameraState, now: float) -> CameraSnapshot:
        totals = dict(cam.counters)
        window = dict(cam.counters - self._window_base[cam.key])
        self._window_base[cam.key] = Counter(cam.counters)
        lat = np.asarray(cam.latency_ms) if cam.latency_ms else None
        return CameraSnapshot(
            key=cam.key,
            totals=totals,
            window=window,
            window_s=now - self._window_wall,
            camera_info_ok=cam.intrinsics is not None,
            camera_info_problem=cam.camera_info_problem,
            input_age_s=None if cam.last_input_wall_s is None else now - cam.last_input_wall_s,
            latency_ms_p50=None if lat is None else float(np.percentile(lat, 50)),
            latency_ms_p95=None if lat is None else float(np.percentile(lat, 95)),
            latency_ms_max=None if lat is None else float(lat.max()),
            stage_ms_mean={k: float(np.mean(v)) for k, v in cam.stage_ms.items() if v},
        )

    def health(self, worker_alive: bool) -> list[HealthStatus]:
        """OK/WARN/ERROR of the node, then of each camera, over the last ``health.window_s``; each
        status also carries the runner's totals since start (``*_total``) and stage timings."""
        statuses = self.monitor.evaluate(time.monotonic(), worker_alive)
        with self._lock:
            faults = dict(self._faults)
            extra: dict[str, list[tuple[str, Value]]] = {
                f"camera {key}": _camera_values(cam) for key, cam in self.cameras.items()
            }
        node: list[tuple[str, Value]] = [
            ("detector", f"{self.detector.name}/{self.detector.device}"),
            ("detector_faults_total", faults.get("detector_faults", 0)),
            ("detector_cpu_fallbacks_total", faults.get("cpu_fallbacks", 0)),
        ]
        if isinstance(self.predictor, RoutedPredictor):
            node += [
                (f"prediction_fallback_{k}_total", n) for k, n in self.predictor.fallback_counts().items()
            ]
        world = self.world.snapshot()  # which frame tracks live in: odometry's, or base_link without it
        node += [("world_frame", world.frame_id), ("world", world.status)]
        node += [(f"world_{k}_total", n) for k, n in world.counters.items()]
        extra["node"] = node
        return [
            dataclasses.replace(st, values=st.values + tuple(extra.get(st.subject, ()))) for st in statuses
        ]

    def beat(self) -> None:
        """The worker is alive and waiting (called on every idle wake-up, so idle is not a stall)."""
        now = time.monotonic()
        with self._lock:
            self._heartbeat = now
        self.monitor.beat(now)

    def record_latency(
        self, key: str, latency_ms: float, publish_ms: float | None = None, cycle_ms: float | None = None
    ) -> None:
        """A processed frame's outputs are published ``latency_ms`` after it was received; the caller's
        ``publish`` time and the whole ``cycle`` (process + publish of its batch) join the stage times."""
        with self._lock:
            cam = self.cameras[key]
            cam.latency_ms.append(latency_ms)
            for stage, ms in (("publish", publish_ms), ("cycle", cycle_ms)):
                if ms is not None:
                    cam.add_stage(stage, ms)
        self.monitor.on_processed(key, time.monotonic(), latency_ms * 1e-3)

    # --- the worker's call ------------------------------------------------------------------------
    def process(
        self,
        batch: list[tuple[str, Image | CompressedImage]],
        wanted: Mapping[str, Collection[str]] | None = None,
    ) -> list[CameraOutput]:
        """One detector batch over the newest frame of each camera in ``batch``. Never raises.

        ``wanted``: per camera key, the optional outputs (``OPTIONAL_OUTPUTS``) someone listens to this
        cycle; the others are not built. None: every optional output the config enables (offline
        tools record them all). The same as ``finish(detect(batch), wanted)``, which the node runs on
        two threads.
        """
        return self.finish(self.detect(batch), wanted)

    def detect(self, batch: list[tuple[str, Image | CompressedImage]]) -> DetectedInputs:
        """The detector's half of ``process``: decode and detect. It touches no tracker, stamp or
        world state, so a node may run it for the next batch while ``finish`` works on this one
        (never two ``detect`` or two ``finish`` calls at once). Never raises."""
        self._adopt_detector_filter()
        inputs = []
        for key, msg in batch:
            cam = self.cameras[key]
            decoded = self._guarded([cam], functools.partial(self._decode, cam, msg))
            inputs.append(
                CameraInput(key, msg, skipped="frame_errors") if isinstance(decoded, list) else decoded
            )
        ready = [i for i in inputs if i.frame is not None]
        if not ready:
            return DetectedInputs(inputs)
        frames = [i.frame for i in ready if i.frame is not None]
        ran = self._guarded([self.cameras[i.key] for i in ready], lambda: self.pipeline.detect_batch(frames))
        if isinstance(ran, list):  # the detector failed: counted and logged once per camera
            for i in ready:
                i.frame, i.skipped = None, "frame_errors"
            return DetectedInputs(inputs)
        for i, det in zip(ready, ran.detections):
            i.detections = det
        return DetectedInputs(inputs, ran.detect_ms_per_frame, _detector_stages(self.detector, len(ready)))

    def finish(
        self, detected: DetectedInputs, wanted: Mapping[str, Collection[str]] | None = None
    ) -> list[CameraOutput]:
        """The tracking half of ``process``: stamp checks, trackers, paths and messages, in the
        batch's camera order. Never raises."""
        self._wanted = wanted
        self._take_requests()
        self._begin_world_batch()
        outputs: list[CameraOutput] = []
        accepted: list[CameraInput] = []
        for item in detected.inputs:
            cam = self.cameras[item.key]
            self._update_extrinsics(cam, item.msg.header.frame_id)
            if item.frame is None:  # skipped in ``detect``: already counted there
                outputs.append(CameraOutput(item.key, None, None, item.skipped))
                continue
            skipped = self._guarded([cam], functools.partial(self._admit, cam, item.msg))
            if isinstance(skipped, list):  # failed: the skip is already counted and logged
                outputs += skipped
            elif skipped is not None:
                outputs.append(CameraOutput(item.key, None, None, skipped))
            else:
                accepted.append(item)
        if accepted:
            cams = [self.cameras[i.key] for i in accepted]
            outputs += self._guarded(cams, lambda: self._run(accepted, detected))
        now = time.monotonic()
        with self._lock:
            self._heartbeat = now
        self.monitor.beat(now)
        return outputs

    def fuse(self, outputs: list[CameraOutput]) -> CameraOutput | None:
        """The one fused object list of the cameras processed in ``outputs`` (key ``fused``: ``objects``,
        fused ``tracked_objects`` and their markers, in the world frame), or None when no camera produced
        a result. Never raises: a fusion failure is counted as ``fusion_errors`` and logged."""
        live = [o for o in outputs if o.result is not None and o.messages is not None]
        if not live:
            return None
        t0 = time.perf_counter()
        try:
            return self._fuse(live)
        except Exception as exc:  # the per-camera outputs stand; only the fused list of this batch is lost
            with self._lock:
                self._faults["fusion_errors"] += 1
                self._last_failure = f"fusion: {type(exc).__name__}: {exc}"
            self._log.warning(FUSED_KEY, "fusion", f"fused list lost: {type(exc).__name__}: {exc}")
            return None
        finally:  # the batch's fused list is shared by its frames: each counts its share, as for detection
            ms = (time.perf_counter() - t0) * 1e3 / len(live)
            with self._lock:
                for o in live:
                    self.cameras[o.key].add_stage("fuse", ms)

    def _fuse(self, live: list[CameraOutput]) -> CameraOutput | None:
        fused = self.world.fuse([o.result for o in live if o.result is not None], self.predictor)
        if fused is None:
            return None
        # The newest image's own stamp (nanoseconds exact); a float stamp only when a late batch was
        # fused at the previous, later stamp.
        newest = max(live, key=lambda o: o.result.stamp_s if o.result is not None else -math.inf)
        assert newest.result is not None and newest.messages is not None
        detections = newest.messages.detections
        stamp = detections.header.stamp if detections is not None else None
        if stamp is None or fused.result.stamp_s > newest.result.stamp_s:
            stamp = conv.ns_to_time(round(fused.result.stamp_s * 1e9))
        frame_id = self.world.frame_id
        tracked, predicted = fused.messages(Header(stamp=stamp, frame_id=frame_id))
        msgs = FrameMessages(objects=predicted, fused_tracked_objects=tracked)
        if self.config.io.publish_markers and self._wants_any("markers"):  # namespace "fused/..."
            msgs.markers, self.world.marker_ids = conv.markers_msg(
                fused.result, stamp, frame_id, self.world.marker_ids
            )
        return CameraOutput(FUSED_KEY, fused.result, msgs)

    def add_tf_static(self, msg: Any) -> None:
        """A ``tf2_msgs/TFMessage`` from /tf_static (any thread): camera mounts for the extrinsics."""
        self.extrinsics.add_tf_static(msg)

    def add_odometry(self, msg: Odometry) -> None:
        """An ego pose (any thread): from the first one on, tracking runs in its fixed frame."""
        self.world.add_odometry(msg, jump_back_s=self.config.io.reorder_tolerance_s)

    def _begin_world_batch(self) -> None:
        """Fix the tracking frame for this batch; on the first odometry the trackers restart in it."""
        if self.world.begin_batch():
            log.info("odometry received: tracking restarts in %s", self.world.frame_id)
            self.pipeline.trackers.clear()
            for state in self.cameras.values():
                state.last_stamp_ns = None  # new tracker epochs: new track UUIDs

    def _take_requests(self) -> None:
        with self._lock:
            config, self._pending_config = self._pending_config, None
            resets, self._reset_requests = self._reset_requests, set()
            if config is not None:
                self.config = config
        if config is not None:
            for tracker in self.pipeline.trackers.values():
                tracker.config = config.tracker
        for key in resets:
            self._reset_tracks(self.cameras[key])

    def _adopt_detector_filter(self) -> None:
        """The newest config's detection filters (thresholds, classes) from this batch on. Called by
        ``detect``, which owns the detector; ``finish`` adopts the rest of the config."""
        with self._lock:
            config = self._pending_config or self.config
        if config.detector is not self._filter_config:
            self.detector.update_filter(config.detector)
            self._filter_config = config.detector

    def _reset_tracks(self, cam: CameraState) -> None:
        self.pipeline.trackers.pop(cam.key, None)
        cam.last_stamp_ns = None

    def _bump(self, cam: CameraState, counter: str) -> None:
        with self._lock:
            cam.counters[counter] += 1

    def _decode(self, cam: CameraState, msg: Image | CompressedImage) -> CameraInput:
        """Count the frame in and decode it; an undecodable one is counted and logged here."""
        now = time.monotonic()
        with self._lock:
            cam.counters["frames_in"] += 1
            cam.last_input_wall_s = now
        self.monitor.on_image(cam.key, now)
        try:
            t0 = time.perf_counter()
            image = conv.image_msg_to_bgr(msg, self.config.io.max_image_pixels)
            convert_ms = (time.perf_counter() - t0) * 1e3
        except ImageDecodeError as exc:
            self._log.warning(cam.key, "decode", f"skipping frame: {exc}")
            self.monitor.on_decode_error(cam.key, time.monotonic())
            self._bump(cam, "decode_errors")
            return CameraInput(cam.key, msg, skipped="decode_errors")
        stamp_s = conv.time_to_ns(msg.header.stamp) * 1e-9  # checked in ``_admit`` before tracking
        return CameraInput(
            cam.key, msg, Frame(image, stamp_s, msg.header.frame_id, cam.key), convert_ms=convert_ms
        )

    def _admit(self, cam: CameraState, msg: Image | CompressedImage) -> str | None:
        """Stamp checks before tracking: None if the frame goes on, else the counter of why not."""
        skipped = self._check_stamp(cam, msg.header.stamp)
        if skipped is not None:
            self._bump(cam, skipped)
            return skipped
        stamp_ns = conv.time_to_ns(msg.header.stamp)
        if cam.last_stamp_ns is None:
            cam.epoch_ns = stamp_ns
        cam.last_stamp_ns = stamp_ns
        return None

    def _check_stamp(self, cam: CameraState, stamp: object) -> str | None:
        """None if the frame may go on; else the counter of why not. Large jumps back reset tracks."""
        sec, nsec = int(getattr(stamp, "sec", -1)), int(getattr(stamp, "nanosec", -1))
        if sec < 0 or not 0 <= nsec < 1_000_000_000 or sec == nsec == 0:  # 0.0: never set
            self._log.warning(cam.key, "stamp", f"refusing frame with invalid stamp {sec}.{nsec:09d}")
            return "invalid_stamps"
        stamp_ns = sec * 1_000_000_000 + nsec
        last = cam.last_stamp_ns
        if last is None or stamp_ns > last:
            return None
        if stamp_ns == last:
            return "duplicate_stamps"
        back_s = (last - stamp_ns) * 1e-9
        if back_s <= self.config.io.reorder_tolerance_s:
            self._log.warning(cam.key, "reorder", f"dropping a frame {back_s:.3f} s older than the last")
            return "reordered_dropped"
        # Bag looped or clock reset: old tracks would be predicted backwards in time.
        log.warning("camera %s: time jumped back %.3f s; resetting its tracks", cam.key, back_s)
        self._bump(cam, "time_jumps_back")
        self._reset_tracks(cam)
        self.world.restart_fusion()  # the fused objects are as far in the future as the old tracks
        return None

    def _guarded(self, cams: list[CameraState], step: Callable[[], T]) -> T | list[CameraOutput]:
        """``step()``, or, if it raises, one skipped output per camera. THE place a per-frame failure
        in any stage (decode, detector, tracker, predictor, messages) is caught, counted and logged."""
        try:
            return step()
        except Exception as exc:  # any stage: the frame is lost, the node is not
            if _is_device_fault(exc):
                self._device_fault(exc)
            reason = f"{type(exc).__name__}: {exc}"
            with self._lock:
                self._last_failure = reason
            self.monitor.on_frame_failure(time.monotonic(), reason)
            out = []
            for cam in cams:
                self._bump(cam, "frame_errors")
                self._log.warning(cam.key, "frame_error", f"frame failed, skipped: {reason}")
                out.append(CameraOutput(cam.key, None, None, "frame_errors"))
            return out

    def _device_fault(self, exc: Exception) -> None:
        """A CUDA failure: count it; rebuild the detector on the CPU unless it already is there."""
        with self._lock:
            self._faults["detector_faults"] += 1
        self.monitor.on_detector_fault(time.monotonic(), f"{type(exc).__name__}: {exc}")
        if str(self.detector.device).startswith("cpu"):
            return
        log.error("detector on %s failed (%s); switching to the CPU", self.detector.device, exc)
        try:
            cpu = self._detector_factory(_on_cpu(self.config.detector))
        except Exception as again:
            log.error("no CPU detector either: %s", again)
            return
        self.detector = self.pipeline.detector = cpu
        with self._lock:
            self._faults["cpu_fallbacks"] += 1
        self.monitor.set_detector_degraded(f"device fault ({type(exc).__name__}): running on cpu")

    def _run(self, accepted: list[CameraInput], detected: DetectedInputs) -> list[CameraOutput]:
        frames = [i.frame for i in accepted if i.frame is not None]
        cams = [self.cameras[i.key] for i in accepted]
        projectors = [
            self._projector(cam, f.image.shape[1], f.image.shape[0]) for cam, f in zip(cams, frames)
        ]
        # Vehicle-frame locators, seen from the odometry's fixed frame through the pose at each stamp.
        locators = [
            self.world.locator(None if p is None else cam.locator, f.stamp_s)
            for cam, f, p in zip(cams, frames, projectors)
        ]
        predict = [any(self._wants(cam.key, o) for o in PATH_OUTPUTS) for cam in cams]
        dets = DetectedBatch(
            [i.detections for i in accepted if i.detections is not None], detected.detect_ms_per_frame
        )
        results = self.pipeline.track_batch(frames, dets, locators, predict)
        outputs = []
        for item, cam, frame, result, projector in zip(accepted, cams, frames, results, projectors):
            t0 = time.perf_counter()
            msgs = self._messages(cam, frame, result, item.msg.header, projector)
            stages = {"convert": item.convert_ms, **result.timings_ms}
            if detected.detector_ms:  # the detector's own split replaces the pipeline's whole-call "detect"
                stages.pop("detect", None)
                stages.update(detected.detector_ms)
            stages["build"] = (time.perf_counter() - t0) * 1e3
            with self._lock:
                cam.counters["processed"] += 1
                cam.counters["detections"] += len(result.detections)
                cam.counters["planning_withheld"] += projector is None
                for stage, ms in stages.items():
                    cam.add_stage(stage, ms)
            outputs.append(CameraOutput(cam.key, result, msgs))
        return outputs

    def _wants(self, key: str, output: str) -> bool:
        return self._wanted is None or output in self._wanted.get(key, ())

    def _wants_any(self, output: str) -> bool:
        """Whether any camera of the batch wants ``output`` (the fused list's markers share its topic)."""
        return self._wanted is None or any(output in w for w in self._wanted.values())

    def _projector(self, cam: CameraState, width: int, height: int) -> GroundProjector | None:
        """The camera's projector for this image size, rebuilt only when the intrinsics or the
        extrinsics (``cam.mount``, set per frame by ``_update_extrinsics``) change."""
        with self._lock:
            intr = cam.intrinsics
        if intr is None:
            fallback = self.config.io.fallback_hfov_deg
            self._log.warning(
                cam.key,
                "no_camera_info",
                f"no valid CameraInfo on {cam.namespace.rstrip('/')}/camera_info: "
                + (
                    f"assuming a {fallback:g} deg FOV"
                    if fallback > 0
                    else "tracked/predicted objects withheld until it arrives (detections still published)"
                ),
            )
            if fallback <= 0:
                return None
            intr = CameraIntrinsics.from_fov(width, height, fallback)
        elif (intr.width, intr.height) != (width, height):
            intr = intr.scaled(width, height)  # CameraInfo of another resolution (e.g. a resized stream)
        pose = cam.mount if cam.mount is not None else self.config.pose(cam.key)
        if cam.projector is None or cam.projector.intrinsics != intr or cam.projector.pose != pose:
            cam.projector = GroundProjector(intr, pose)
            world = self.config.world
            cam.locator = FusedGroundLocator(
                cam.projector,
                self.config.tracker.foot_noise_h,
                track_horizon=world.track_horizon,
                near_field=world.near_field_fixes,
            )
        return cam.projector

    def _update_extrinsics(self, cam: CameraState, frame_id: str) -> None:
        """The camera's mount for its next frame: from /tf_static (vehicle frame -> the image's
        frame_id) when published, else the ``camera_poses.KEY`` parameters. A change of source is
        logged; a change after the first frame restarts the camera's tracks (positions from two
        mounts must not mix in one track)."""
        pose, source = self.extrinsics.pose(frame_id, self.config.pose(cam.key))
        cam.mount = pose
        if source == cam.extrinsics_source:
            return
        where = (
            f"/tf_static ({self.extrinsics.vehicle_frame} -> {frame_id})"
            if source == "tf_static"
            else f"parameters (camera_poses.{cam.key})"
        )
        restart = bool(cam.extrinsics_source)
        log.info("camera %s: extrinsics from %s%s", cam.key, where, "; its tracks restart" if restart else "")
        if restart:
            self._reset_tracks(cam)
        with self._lock:
            cam.extrinsics_source = source

    def _messages(
        self,
        cam: CameraState,
        frame: Frame,
        result: FrameResult,
        header: Header,
        projector: GroundProjector | None,
    ) -> FrameMessages:
        io = self.config.io
        frame_id = self.world.frame_id  # odometry's fixed frame, else io.target_frame
        planning_header = Header(stamp=header.stamp, frame_id=frame_id)
        msgs = FrameMessages(detections=conv.detections_msg(result, header))
        tracked, predicted = (self._wants(cam.key, o) for o in ("tracked_objects", "predicted_objects"))
        # Without intrinsics no ground positions: withhold, do not send "empty".
        if projector is not None and (tracked or predicted):
            both = conv.planning_msgs(result, planning_header, cam.epoch_ns)
            msgs.tracked_objects = both[0] if tracked else None
            msgs.predicted_objects = both[1] if predicted else None
        if io.publish_markers and self._wants(cam.key, "markers"):
            msgs.markers, cam.marker_ids = conv.markers_msg(result, header.stamp, frame_id, cam.marker_ids)
        if io.publish_annotated_image and self._wants(cam.key, "annotated_image"):
            # Paths are in the tracks' frame: drawn through base_link's pose at the image stamp.
            pose = self.world.image_pose(frame.stamp_s)
            drawn = draw_result(
                frame.image, result, projector=projector if pose is not None else None, pose=pose
            )
            msgs.annotated_image = conv.image_to_msg(drawn, header)
        return msgs
