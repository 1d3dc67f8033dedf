"""Per-camera OK/WARN/ERROR for /diagnostics from the runner's snapshot (ROS-free values, ROS levels).

Rules, checked in order, the first match wins (documented in docs/ros.md):
- ERROR  worker thread dead, or frames waiting and no batch finished for ``io.worker_stall_s``
- ERROR  no valid CameraInfo while frames arrive: tracked/predicted objects are withheld
- ERROR  no input for ``io.worker_stall_s`` after frames had arrived
- WARN   frame failures, decode errors, invalid stamps or rejected CameraInfo in this period
- WARN   the detector fell back to the CPU after a device fault
- OK     otherwise
Counters in ``window`` cover one diagnostics period, so a WARN clears when its cause does.

Hook: the windowed evaluator of ``core/health.py`` (thresholds on rate, latency, input age) replaces
``camera_status`` once it lands; it consumes the same ``CameraSnapshot`` / ``RunnerDiagnostics``.
"""

from __future__ import annotations

from lepton_perception.ros.params import IoConfig
from lepton_perception.ros.runner import CameraSnapshot, RunnerDiagnostics

OK, WARN, ERROR = 0, 1, 2
_WARN_COUNTERS = ("frame_errors", "decode_errors", "invalid_stamps", "camera_info_errors")


def camera_status(
    snap: CameraSnapshot,
    diag: RunnerDiagnostics,
    io: IoConfig,
    *,
    worker_alive: bool,
    frames_waiting: bool,
) -> tuple[int, str, dict[str, float | int | str]]:
    """(level, message, key/values) of one camera."""
    values: dict[str, float | int | str] = dict(snap.totals)
    values.update({f"{k}_this_period": v for k, v in snap.window.items()})
    window_s = max(snap.window_s, 1e-6)
    values["input_hz"] = (snap.window.get("frames_in", 0) + snap.window.get("stale_skipped", 0)) / window_s
    values["processed_hz"] = snap.window.get("processed", 0) / window_s
    values["camera_info"] = "yes" if snap.camera_info_ok else "missing"
    values["detector"] = diag.detector
    values["detector_faults"] = diag.detector_faults
    values["detector_cpu_fallbacks"] = diag.cpu_fallbacks
    values["worker_heartbeat_age_s"] = diag.heartbeat_age_s
    if snap.input_age_s is not None:
        values["input_age_s"] = snap.input_age_s
    if snap.latency_ms_p50 is not None and snap.latency_ms_max is not None:
        values["latency_ms_p50"] = snap.latency_ms_p50
        values["latency_ms_max"] = snap.latency_ms_max
    if snap.latency_ms_p95 is not None:
        values["latency_ms_p95"] = snap.latency_ms_p95
    if diag.last_failure:
        values["last_failure"] = diag.last_failure
    values.update({f"{stage}_ms_mean": ms for stage, ms in snap.stage_ms_mean.items()})
    for reason, n in diag.predictor_fallbacks.items():
        values[f"prediction_fallback_{reason}"] = n
    # Which frame tracks live in: the odometry's fixed frame, or base_link without odometry.
    values["world_frame"] = diag.world.frame_id
    values["world"] = diag.world.status
    values.update({f"world_{k}": n for k, n in diag.world.counters.items()})
    values["fusion_errors"] = diag.fusion_errors
    level, message = _level(snap, diag, io, worker_alive, frames_waiting)
    return level, message, values


def _level(
    snap: CameraSnapshot, diag: RunnerDiagnostics, io: IoConfig, worker_alive: bool, frames_waiting: bool
) -> tuple[int, str]:
    for found in (
        _worker(diag, io, worker_alive, frames_waiting),
        _camera_info(snap, io),
        _input(snap, io),
        _faults(snap, diag),
    ):
        if found is not None:
            return found
    return OK, "ok"


def _worker(diag: RunnerDiagnostics, io: IoConfig, alive: bool, waiting: bool) -> tuple[int, str] | None:
    if not alive:
        return ERROR, "worker thread is not running: no frames are processed"
    if waiting and diag.heartbeat_age_s > io.worker_stall_s:
        return ERROR, f"worker stalled: no frame processed for {diag.heartbeat_age_s:.1f} s"
    return None


def _camera_info(snap: CameraSnapshot, io: IoConfig) -> tuple[int, str] | None:
    if snap.camera_info_ok or not snap.totals.get("frames_in", 0):
        return None
    if snap.camera_info_problem:
        n = snap.totals.get("camera_info_received", 0)
        why = f"CameraInfo rejected ({n} received): {snap.camera_info_problem}"
    else:
        why = "no CameraInfo received"
    if io.fallback_hfov_deg <= 0:
        return ERROR, f"{why}: tracked/predicted objects withheld"
    return WARN, f"{why}: positions from an assumed {io.fallback_hfov_deg:g} deg FOV"


def _input(snap: CameraSnapshot, io: IoConfig) -> tuple[int, str] | None:
    if snap.input_age_s is not None and snap.input_age_s > io.worker_stall_s:
        return ERROR, f"no input for {snap.input_age_s:.1f} s"
    return None


def _faults(snap: CameraSnapshot, diag: RunnerDiagnostics) -> tuple[int, str] | None:
    bad = {k: snap.window[k] for k in _WARN_COUNTERS if snap.window.get(k)}
    if bad:
        return WARN, "this period: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in bad.items())
    if diag.cpu_fallbacks:
        return WARN, f"detector fell back to the CPU after {diag.detector_faults} device fault(s)"
    return None
