"""Health of the perception node for a safety monitor: OK / WARN / ERROR per camera and for the node.

ROS-free. ``ros/diagnostics.py`` turns the statuses into ``diagnostic_msgs/DiagnosticArray``.

Everything is judged over the LAST WINDOW (``HealthConfig.window_s``, sliding), never since start, so a
level clears as soon as its cause has left the window. Input is a small typed snapshot:

``CameraWindow`` (one per camera; counts are of the window unless named ``*_total``)::

    key: str                          camera key ("cams_front")
    window_s: float                   seconds the counts cover: min(HealthConfig.window_s, time since
                                      the monitor started); rates are judged only over a full window
    frames_in: int                    images received (including those replaced before processing)
    processed: int                    frames that went through the pipeline
    decode_errors: int                frames refused by the image codec (ImageDecodeError)
    last_input_age_s: float | None    seconds since the last image arrived; None: never
    latency_p95_s: float | None       receive -> outputs published, 95th percentile; None: no frame
    latency_max_s: float | None       the same, maximum
    intrinsics: str                   "camera_info" (valid CameraInfo in use), "fallback_fov"
                                      (io.fallback_hfov_deg assumed) or "none"
    camera_info_total: int            CameraInfo messages received since start
    camera_info_rejected_total: int   of those, rejected as invalid
    camera_info_error: str            why the last one was rejected ("" if none was)

``NodeWindow`` (the node; counts are of the window)::

    uptime_s: float                   since the node (monitor) started
    worker_alive: bool                the worker thread is running
    worker_heartbeat_age_s: float     seconds since the worker last finished a loop iteration (it
                                      beats at least every wait period even when idle)
    frame_failures: int               per-frame exceptions caught by the worker
    last_failure: str                 reason of the latest one ("" if none)
    detector_faults: int              detector exceptions / CUDA errors (frame still handled or retried)
    detector_degraded: str            "" when the detector runs as configured, else why not
                                      ("cuda out of memory: running on cpu")
    cameras: tuple[CameraWindow, ...]

``HealthMonitor`` builds these snapshots from events (``on_image``, ``on_processed``, ...) with
thread-safe sliding windows, so a node only reports what happens and calls ``evaluate(now)``.

Rules (thresholds in ``HealthConfig``; the worst finding sets the level, all findings of that level
make the message):

========================  =====  ==============================================================
camera rule               level  when
========================  =====  ==============================================================
no input                  ERROR  last image older than ``input_timeout_s`` (or none since start
                                 after that long); WARN "waiting for the first image" before
processed rate            ERROR  below ``min_processed_error_hz`` over a full window
processed rate            WARN   below ``min_processed_warn_hz`` over a full window
latency                   ERROR  maximum above ``max_latency_error_s``
latency                   WARN   95th percentile above ``max_latency_warn_s``
CameraInfo                ERROR  no valid intrinsics while images arrive: tracked/predicted
                                 objects are withheld; "never received" vs "received N, all
                                 rejected: reason"
CameraInfo                WARN   the same before any image, or ground positions from an
                                 assumed FOV (``io.fallback_hfov_deg``)
decode errors             WARN   at least one frame refused by the codec in the window
node rule
worker dead               ERROR  worker thread not alive
worker stalled            ERROR  heartbeat older than ``heartbeat_timeout_s``
frame failures            WARN   at least one per-frame exception in the window
detector                  WARN   detector faults in the window, or running degraded
========================  =====  ==============================================================
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

import numpy as np

from lepton_perception.core.schema import param

Intrinsics = Literal["camera_info", "fallback_fov", "none"]
Value = float | int | str


class Level(IntEnum):
    """Diagnostic levels, numbered as ``diagnostic_msgs/DiagnosticStatus``."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass(frozen=True)
class HealthConfig:
    window_s: float = param(
        5.0, "sliding window over which counts, rates and latencies are judged", unit="s", lo=0.5, hi=600.0
    )
    input_timeout_s: float = param(
        1.0, "a camera with no image for longer than this is ERROR", unit="s", lo=0.05, hi=600.0
    )
    min_processed_warn_hz: float = param(
        5.0, "processed frames per second below this over a full window: WARN", unit="Hz", lo=0.0, hi=1000.0
    )
    min_processed_error_hz: float = param(
        1.0, "processed frames per second below this over a full window: ERROR", unit="Hz", lo=0.0, hi=1000.0
    )
    max_latency_warn_s: float = param(
        0.3, "95th percentile of receive-to-publish latency above this: WARN", unit="s", lo=0.001, hi=600.0
    )
    max_latency_error_s: float = param(
        2.0,
        "largest receive-to-publish latency in the window above this: ERROR",
        unit="s",
        lo=0.001,
        hi=600.0,
    )
    heartbeat_timeout_s: float = param(
        2.0, "worker thread silent for longer than this: node ERROR (stalled)", unit="s", lo=0.1, hi=600.0
    )

    def __post_init__(self) -> None:
        if self.input_timeout_s > self.window_s:  # a camera silent since start must show within a window
            raise ValueError("input_timeout_s must not exceed window_s")
        if self.min_processed_error_hz > self.min_processed_warn_hz:
            raise ValueError("min_processed_error_hz must not exceed min_processed_warn_hz")
        if self.max_latency_warn_s > self.max_latency_error_s:
            raise ValueError("max_latency_warn_s must not exceed max_latency_error_s")


@dataclass(frozen=True)
class CameraWindow:
    """One camera over the last window; fields documented in the module docstring."""

    key: str
    window_s: float
    frames_in: int = 0
    processed: int = 0
    decode_errors: int = 0
    last_input_age_s: float | None = None
    latency_p95_s: float | None = None
    latency_max_s: float | None = None
    intrinsics: Intrinsics = "none"
    camera_info_total: int = 0
    camera_info_rejected_total: int = 0
    camera_info_error: str = ""


@dataclass(frozen=True)
class NodeWindow:
    """The node over the last window; fields documented in the module docstring."""

    uptime_s: float
    worker_alive: bool = True
    worker_heartbeat_age_s: float = 0.0
    frame_failures: int = 0
    last_failure: str = ""
    detector_faults: int = 0
    detector_degraded: str = ""
    cameras: tuple[CameraWindow, ...] = ()


@dataclass(frozen=True)
class HealthStatus:
    """One diagnostic status: ``subject`` "node" or "camera KEY"; values keyed with units in names."""

    subject: str
    hardware_id: str
    level: Level
    message: str
    values: tuple[tuple[str, Value], ...] = ()


Finding = tuple[Level, str]
CameraRule = Callable[[CameraWindow, HealthConfig], Finding | None]
NodeRule = Callable[[NodeWindow, HealthConfig], Finding | None]


# --- camera rules -----------------------------------------------------------------------------------
def _no_input(w: CameraWindow, cfg: HealthConfig) -> Finding | None:
    if w.last_input_age_s is None:
        if w.window_s > cfg.input_timeout_s:
            return Level.ERROR, f"no image received in {w.window_s:.1f} s since start"
        return Level.WARN, "waiting for the first image"
    if w.last_input_age_s > cfg.input_timeout_s:
        return Level.ERROR, f"no image for {w.last_input_age_s:.1f} s (timeout {cfg.input_timeout_s:g} s)"
    return None


def _full_window(w: CameraWindow, cfg: HealthConfig) -> bool:
    return w.window_s >= 0.9 * cfg.window_s


def _processed_rate(w: CameraWindow, cfg: HealthConfig) -> Finding | None:
    if not _full_window(w, cfg) or w.last_input_age_s is None or w.last_input_age_s > cfg.input_timeout_s:
        return None  # start-up, or already ERROR for no input
    hz, in_hz = w.processed / w.window_s, w.frames_in / w.window_s
    for level, floor in ((Level.ERROR, cfg.min_processed_error_hz), (Level.WARN, cfg.min_processed_warn_hz)):
        if hz < floor:
            return level, f"processing {hz:.1f} Hz, below {floor:g} Hz (input {in_hz:.1f} Hz)"
    return None


def _latency(w: CameraWindow, cfg: HealthConfig) -> Finding | None:
    if w.latency_max_s is not None and w.latency_max_s > cfg.max_latency_error_s:
        return Level.ERROR, f"latency up to {w.latency_max_s:.2f} s (ceiling {cfg.max_latency_error_s:g} s)"
    if w.latency_p95_s is not None and w.latency_p95_s > cfg.max_latency_warn_s:
        return Level.WARN, f"latency p95 {w.latency_p95_s:.2f} s (ceiling {cfg.max_latency_warn_s:g} s)"
    return None


def _camera_info(w: CameraWindow, cfg: HealthConfig) -> Finding | None:
    """No valid intrinsics: no ground positions. While frames arrive the node withholds its
    tracked/predicted objects (an empty list would read "road clear"): ERROR. Before any frame: WARN."""
    if w.intrinsics == "camera_info":
        return None
    if w.intrinsics == "fallback_fov":
        return Level.WARN, "no valid CameraInfo: ground positions from an assumed field of view"
    if w.camera_info_total == 0:
        why = "no CameraInfo received"
    else:
        rejected = w.camera_info_rejected_total
        how_many = "all" if rejected >= w.camera_info_total else str(rejected)
        reason = w.camera_info_error or "invalid"
        why = f"received {w.camera_info_total} CameraInfo, {how_many} rejected: {reason}"
    if w.frames_in:
        return Level.ERROR, f"{why}: tracked/predicted objects withheld"
    return Level.WARN, f"{why}: ground positions unavailable"


def _decode_errors(w: CameraWindow, cfg: HealthConfig) -> Finding | None:
    if w.decode_errors:
        return Level.WARN, f"{w.decode_errors} undecodable frames skipped in the last {w.window_s:.0f} s"
    return None


CAMERA_RULES: tuple[CameraRule, ...] = (_no_input, _processed_rate, _latency, _camera_info, _decode_errors)


# --- node rules -------------------------------------------------------------------------------------
def _worker(n: NodeWindow, cfg: HealthConfig) -> Finding | None:
    if not n.worker_alive:
        why = f": {n.last_failure}" if n.last_failure else ""
        return Level.ERROR, f"worker thread is dead{why}; no frame is processed"
    if n.worker_heartbeat_age_s > cfg.heartbeat_timeout_s:
        return Level.ERROR, f"worker stalled: no heartbeat for {n.worker_heartbeat_age_s:.1f} s"
    return None


def _frame_failures(n: NodeWindow, cfg: HealthConfig) -> Finding | None:
    if n.frame_failures:
        return (
            Level.WARN,
            f"{n.frame_failures} frames failed in the last {cfg.window_s:g} s: {n.last_failure}",
        )
    return None


def _detector(n: NodeWindow, cfg: HealthConfig) -> Finding | None:
    if n.detector_faults:
        return Level.WARN, f"{n.detector_faults} detector faults in the last {cfg.window_s:g} s"
    if n.detector_degraded:
        return Level.WARN, f"detector degraded: {n.detector_degraded}"
    return None


NODE_RULES: tuple[NodeRule, ...] = (_worker, _frame_failures, _detector)


def _combine(findings: list[Finding]) -> tuple[Level, str]:
    """Worst level; the message lists every finding of that level."""
    if not findings:
        return Level.OK, "ok"
    worst = max(level for level, _ in findings)
    return worst, "; ".join(msg for level, msg in findings if level == worst)


def _opt(v: float | None, scale: float = 1.0) -> Value:
    return "none" if v is None else round(v * scale, 3)


def evaluate_camera(w: CameraWindow, cfg: HealthConfig) -> HealthStatus:
    level, message = _combine([f for rule in CAMERA_RULES if (f := rule(w, cfg)) is not None])
    window = max(w.window_s, 1e-9)
    values: tuple[tuple[str, Value], ...] = (
        ("window_s", round(w.window_s, 3)),
        ("input_hz", round(w.frames_in / window, 3)),
        ("processed_hz", round(w.processed / window, 3)),
        ("decode_errors_in_window", w.decode_errors),
        ("last_input_age_s", _opt(w.last_input_age_s)),
        ("latency_p95_ms", _opt(w.latency_p95_s, 1e3)),
        ("latency_max_ms", _opt(w.latency_max_s, 1e3)),
        ("intrinsics", w.intrinsics),
        ("camera_info_received_total", w.camera_info_total),
        ("camera_info_rejected_total", w.camera_info_rejected_total),
    )
    if w.camera_info_error:
        values += (("camera_info_last_error", w.camera_info_error),)
    return HealthStatus(f"camera {w.key}", w.key, level, message, values)


def evaluate_node(n: NodeWindow, cfg: HealthConfig, hardware_id: str = "lepton_perception") -> HealthStatus:
    level, message = _combine([f for rule in NODE_RULES if (f := rule(n, cfg)) is not None])
    values: tuple[tuple[str, Value], ...] = (
        ("uptime_s", round(n.uptime_s, 3)),
        ("worker_alive", "yes" if n.worker_alive else "no"),
        ("worker_heartbeat_age_s", round(n.worker_heartbeat_age_s, 3)),
        ("frame_failures_in_window", n.frame_failures),
        ("detector_faults_in_window", n.detector_faults),
        ("detector_degraded", n.detector_degraded or "no"),
    )
    if n.last_failure:
        values += (("last_failure", n.last_failure),)
    return HealthStatus("node", hardware_id, level, message, values)


def evaluate(n: NodeWindow, cfg: HealthConfig) -> list[HealthStatus]:
    """The node's status first, then one per camera in ``n.cameras`` order."""
    return [evaluate_node(n, cfg), *(evaluate_camera(w, cfg) for w in n.cameras)]


# --- events -> snapshots ----------------------------------------------------------------------------
class SlidingWindow:
    """Values stamped with monotonic seconds, kept for the last ``window_s``. Thread-safe."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._items: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()

    def add(self, t_s: float, value: float = 1.0) -> None:
        with self._lock:
            self._items.append((t_s, value))
            self._prune(t_s)

    def _prune(self, now_s: float) -> None:
        while self._items and self._items[0][0] <= now_s - self.window_s:
            self._items.popleft()

    def values(self, now_s: float) -> list[float]:
        with self._lock:
            self._prune(now_s)
            return [v for _, v in self._items]

    def count(self, now_s: float) -> int:
        return len(self.values(now_s))


@dataclass
class _CameraEvents:
    window_s: float
    frames_in: SlidingWindow = field(init=False)
    processed: SlidingWindow = field(init=False)
    decode_errors: SlidingWindow = field(init=False)
    latency_s: SlidingWindow = field(init=False)  # one value per processed frame
    last_input_s: float | None = None
    intrinsics: Intrinsics = "none"
    camera_info_total: int = 0
    camera_info_rejected_total: int = 0
    camera_info_error: str = ""

    def __post_init__(self) -> None:
        for name in ("frames_in", "processed", "decode_errors", "latency_s"):
            setattr(self, name, SlidingWindow(self.window_s))


class HealthMonitor:
    """Collects what happens in the node (any thread) and evaluates it over the last window.

    Times are monotonic seconds (``time.monotonic()``): health is about wall-clock progress, not the
    image stamps.
    """

    def __init__(self, cameras: list[str], config: HealthConfig, now_s: float) -> None:
        self.config = config
        self.start_s = now_s
        self.cameras = {key: _CameraEvents(config.window_s) for key in cameras}
        self.heartbeat_s = now_s
        self.failures = SlidingWindow(config.window_s)
        self.detector_faults = SlidingWindow(config.window_s)
        self.last_failure = ""
        self.detector_degraded = ""

    # camera events
    def on_image(self, key: str, now_s: float) -> None:
        cam = self.cameras[key]
        cam.frames_in.add(now_s)
        cam.last_input_s = now_s

    def on_processed(self, key: str, now_s: float, latency_s: float) -> None:
        cam = self.cameras[key]
        cam.processed.add(now_s)
        cam.latency_s.add(now_s, latency_s)

    def on_decode_error(self, key: str, now_s: float) -> None:
        self.cameras[key].decode_errors.add(now_s)

    def on_camera_info(self, key: str, accepted: bool, reason: str = "") -> None:
        """A CameraInfo arrived: accepted (its intrinsics are used) or rejected with ``reason``."""
        cam = self.cameras[key]
        cam.camera_info_total += 1
        if accepted:
            cam.intrinsics = "camera_info"
        else:
            cam.camera_info_rejected_total += 1
            cam.camera_info_error = reason

    def set_fallback_fov(self, key: str) -> None:
        """Ground positions come from an assumed field of view (no valid CameraInfo yet)."""
        if self.cameras[key].intrinsics == "none":
            self.cameras[key].intrinsics = "fallback_fov"

    # node events
    def beat(self, now_s: float) -> None:
        """The worker finished a loop iteration (call it at least once per wait period when idle)."""
        self.heartbeat_s = now_s

    def on_frame_failure(self, now_s: float, reason: str) -> None:
        self.failures.add(now_s)
        self.last_failure = reason

    def on_detector_fault(self, now_s: float, reason: str) -> None:
        self.detector_faults.add(now_s)
        self.last_failure = reason

    def set_detector_degraded(self, reason: str) -> None:
        """Why the detector does not run as configured ("" once it does again)."""
        self.detector_degraded = reason

    # snapshots
    def camera_window(self, key: str, now_s: float) -> CameraWindow:
        cam = self.cameras[key]
        lat = cam.latency_s.values(now_s)
        return CameraWindow(
            key=key,
            window_s=min(self.config.window_s, now_s - self.start_s),
            frames_in=cam.frames_in.count(now_s),
            processed=cam.processed.count(now_s),
            decode_errors=cam.decode_errors.count(now_s),
            last_input_age_s=None if cam.last_input_s is None else now_s - cam.last_input_s,
            latency_p95_s=float(np.percentile(lat, 95)) if lat else None,
            latency_max_s=max(lat) if lat else None,
            intrinsics=cam.intrinsics,
            camera_info_total=cam.camera_info_total,
            camera_info_rejected_total=cam.camera_info_rejected_total,
            camera_info_error=cam.camera_info_error,
        )

    def snapshot(self, now_s: float, worker_alive: bool) -> NodeWindow:
        return NodeWindow(
            uptime_s=now_s - self.start_s,
            worker_alive=worker_alive,
            worker_heartbeat_age_s=now_s - self.heartbeat_s,
            frame_failures=self.failures.count(now_s),
            last_failure=self.last_failure,
            detector_faults=self.detector_faults.count(now_s),
            detector_degraded=self.detector_degraded,
            cameras=tuple(self.camera_window(key, now_s) for key in self.cameras),
        )

    def evaluate(self, now_s: float, worker_alive: bool) -> list[HealthStatus]:
        return evaluate(self.snapshot(now_s, worker_alive), self.config)
