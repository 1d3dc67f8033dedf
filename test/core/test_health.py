"""Health rules, one table row per rule; then levels that clear when their cause leaves the window."""

from __future__ import annotations

import dataclasses

import pytest

from lepton_perception.core.health import (
    CameraWindow,
    HealthConfig,
    HealthMonitor,
    Level,
    NodeWindow,
    SlidingWindow,
    evaluate,
    evaluate_camera,
    evaluate_node,
)
from lepton_perception.core.schema import meta_of

CFG = HealthConfig()  # window 5 s, timeout 1 s, rate floors 5 / 1 Hz, latency 0.3 s p95 / 2 s max
# A camera at 10 Hz, everything processed quickly, valid CameraInfo.
GOOD = CameraWindow(
    key="front",
    window_s=5.0,
    frames_in=50,
    processed=50,
    last_input_age_s=0.1,
    latency_p95_s=0.05,
    latency_max_s=0.08,
    intrinsics="camera_info",
    camera_info_total=50,
)


def _matches(expected: str, message: str) -> bool:
    """``=text``: the whole message; otherwise a part of it."""
    return message == expected[1:] if expected.startswith("=") else expected in message


CAMERA_CASES = [
    ("healthy", {}, Level.OK, "=ok"),
    ("silent for 1.5 s", {"last_input_age_s": 1.5}, Level.ERROR, "no image for 1.5 s (timeout 1 s)"),
    (
        "no image yet, 0.5 s after start",
        {"last_input_age_s": None, "window_s": 0.5},
        Level.WARN,
        "waiting for",
    ),
    (
        "no image since start",
        {"last_input_age_s": None, "window_s": 5.0, "frames_in": 0, "processed": 0},
        Level.ERROR,
        "no image received in 5.0 s since start",
    ),
    ("4 Hz processed", {"processed": 20}, Level.WARN, "processing 4.0 Hz, below 5 Hz (input 10.0 Hz)"),
    ("0.6 Hz processed", {"processed": 3}, Level.ERROR, "processing 0.6 Hz, below 1 Hz"),
    ("slow but window not full yet", {"window_s": 2.0, "processed": 2, "frames_in": 20}, Level.OK, "=ok"),
    ("p95 latency 0.5 s", {"latency_p95_s": 0.5, "latency_max_s": 0.6}, Level.WARN, "latency p95 0.50 s"),
    ("a 45 s frame", {"latency_max_s": 45.0}, Level.ERROR, "latency up to 45.00 s (ceiling 2 s)"),
    (
        "CameraInfo never received while images arrive: planning lists withheld",
        {"intrinsics": "none", "camera_info_total": 0},
        Level.ERROR,
        "=no CameraInfo received: tracked/predicted objects withheld",
    ),
    (
        "CameraInfo never received, no image yet",
        {
            "intrinsics": "none",
            "camera_info_total": 0,
            "frames_in": 0,
            "processed": 0,
            "window_s": 0.5,
            "last_input_age_s": None,
        },
        Level.WARN,
        "no CameraInfo received: ground positions unavailable",
    ),
    (
        "nine CameraInfo, all rejected",
        {
            "intrinsics": "none",
            "camera_info_total": 9,
            "camera_info_rejected_total": 9,
            "camera_info_error": "CameraInfo has zero width/height (uncalibrated camera)",
        },
        Level.ERROR,
        "received 9 CameraInfo, all rejected: CameraInfo has zero width/height (uncalibrated camera): "
        "tracked/predicted objects withheld",
    ),
    ("assumed field of view", {"intrinsics": "fallback_fov"}, Level.WARN, "assumed field of view"),
    ("decode errors", {"decode_errors": 2}, Level.WARN, "2 undecodable frames skipped in the last 5 s"),
    (
        "worst level wins",
        {"last_input_age_s": 3.0, "decode_errors": 2, "latency_p95_s": 0.5},
        Level.ERROR,
        "=no image for 3.0 s (timeout 1 s)",
    ),
    (
        "findings of one level are all listed",
        {"decode_errors": 1, "intrinsics": "fallback_fov", "latency_p95_s": 0.5},
        Level.WARN,
        "latency p95 0.50 s (ceiling 0.3 s); no valid CameraInfo: ground positions from an assumed",
    ),
]


@pytest.mark.parametrize(
    ("name", "changes", "level", "message"), CAMERA_CASES, ids=[c[0] for c in CAMERA_CASES]
)
def test_camera_rules(name: str, changes: dict, level: Level, message: str) -> None:
    status = evaluate_camera(dataclasses.replace(GOOD, **changes), CFG)
    assert status.level == level, status.message
    assert _matches(message, status.message), status.message
    assert (status.subject, status.hardware_id) == ("camera front", "front")


NODE_CASES = [
    ("healthy", {}, Level.OK, "=ok"),
    (
        "worker dead",
        {"worker_alive": False, "last_failure": "ValueError: bad frame"},
        Level.ERROR,
        "worker thread is dead: ValueError: bad frame; no frame is processed",
    ),
    (
        "worker stalled",
        {"worker_heartbeat_age_s": 3.5},
        Level.ERROR,
        "worker stalled: no heartbeat for 3.5 s",
    ),
    (
        "frames failed",
        {"frame_failures": 3, "last_failure": "tracker: NaN box"},
        Level.WARN,
        "3 frames failed in the last 5 s: tracker: NaN box",
    ),
    ("detector faults", {"detector_faults": 2}, Level.WARN, "2 detector faults"),
    (
        "detector degraded",
        {"detector_degraded": "cuda out of memory: running on cpu"},
        Level.WARN,
        "detector degraded: cuda out of memory: running on cpu",
    ),
]


@pytest.mark.parametrize(("name", "changes", "level", "message"), NODE_CASES, ids=[c[0] for c in NODE_CASES])
def test_node_rules(name: str, changes: dict, level: Level, message: str) -> None:
    status = evaluate_node(dataclasses.replace(NodeWindow(uptime_s=60.0), **changes), CFG)
    assert status.level == level, status.message
    assert _matches(message, status.message), status.message
    assert status.subject == "node"


def test_evaluate_lists_node_then_cameras_with_values() -> None:
    statuses = evaluate(NodeWindow(uptime_s=9.0, cameras=(GOOD, dataclasses.replace(GOOD, key="rear"))), CFG)
    assert [s.subject for s in statuses] == ["node", "camera front", "camera rear"]
    values = dict(statuses[1].values)
    assert values["input_hz"] == 10.0 and values["processed_hz"] == 10.0
    assert values["latency_p95_ms"] == 50.0 and values["intrinsics"] == "camera_info"


def test_config_is_a_documented_schema_and_checks_consistency() -> None:
    for f in dataclasses.fields(HealthConfig):
        meta = meta_of(f)
        assert meta is not None and meta.description and meta.unit in ("s", "Hz"), f.name
        assert meta.lo is not None and meta.hi is not None
    with pytest.raises(ValueError, match="min_processed_error_hz"):
        HealthConfig(min_processed_warn_hz=1.0, min_processed_error_hz=2.0)
    with pytest.raises(ValueError, match="max_latency_warn_s"):
        HealthConfig(max_latency_warn_s=3.0, max_latency_error_s=2.0)
    with pytest.raises(ValueError, match="input_timeout_s"):
        HealthConfig(input_timeout_s=10.0, window_s=5.0)


def test_sliding_window_forgets_old_events() -> None:
    w = SlidingWindow(5.0)
    for t in (0.0, 1.0, 2.0, 6.5):
        w.add(t, t * 10)
    assert w.values(6.5) == [20.0, 65.0]  # 0 and 1 are older than 5 s
    assert w.count(100.0) == 0


def _camera_at_10hz(m: HealthMonitor, t0: float, t1: float, latency_s: float = 0.05) -> None:
    t = t0
    while t < t1 - 1e-9:
        m.on_image("front", t)
        m.on_processed("front", t + latency_s, latency_s)
        m.beat(t + latency_s)
        t += 0.1


def _level(m: HealthMonitor, now: float, subject: str = "camera front") -> tuple[Level, str]:
    status = next(s for s in m.evaluate(now, worker_alive=True) if s.subject == subject)
    return status.level, status.message


def _monitor() -> HealthMonitor:
    m = HealthMonitor(["front"], CFG, now_s=0.0)
    m.on_camera_info("front", accepted=True)
    return m


def test_no_input_is_an_error_that_clears_when_images_come_back() -> None:
    m = _monitor()
    assert _level(m, 0.5)[0] == Level.WARN  # waiting for the first image
    assert _level(m, 1.5) == (Level.ERROR, "no image received in 1.5 s since start")
    _camera_at_10hz(m, 1.5, 10.0)
    assert _level(m, 10.0) == (Level.OK, "ok")
    level, msg = _level(m, 12.0)  # the camera stopped at 9.9 s
    assert level == Level.ERROR and msg.startswith("no image for 2.1 s")
    _camera_at_10hz(m, 16.0, 18.0)
    level, msg = _level(m, 18.0)  # back, but only 2 s of frames in the 5 s window: 4 Hz
    assert level == Level.WARN and "processing 4.0 Hz" in msg
    _camera_at_10hz(m, 18.0, 21.1)
    assert _level(m, 21.1) == (Level.OK, "ok")


def test_decode_errors_and_slow_frames_clear_after_the_window() -> None:
    m = _monitor()
    _camera_at_10hz(m, 0.0, 10.0)
    m.on_decode_error("front", 10.0)
    m.on_processed("front", 10.0, 45.0)  # one 45 s frame
    _camera_at_10hz(m, 10.0, 14.0)
    level, msg = _level(m, 14.0)
    assert level == Level.ERROR and "latency up to 45.00 s" in msg
    _camera_at_10hz(m, 14.0, 15.5)
    assert _level(m, 15.5) == (Level.OK, "ok")  # both events are older than 5 s now


def test_camera_info_reason_then_recovery() -> None:
    m = HealthMonitor(["front"], CFG, now_s=0.0)
    _camera_at_10hz(m, 0.0, 6.0)
    assert _level(m, 6.0) == (Level.ERROR, "no CameraInfo received: tracked/predicted objects withheld")
    for _ in range(9):
        m.on_camera_info("front", accepted=False, reason="CameraInfo has no focal length in k or p")
    assert _level(m, 6.0)[1].startswith("received 9 CameraInfo, all rejected: CameraInfo has no focal length")
    m.set_fallback_fov("front")
    assert "assumed field of view" in _level(m, 6.0)[1]
    m.on_camera_info("front", accepted=True)
    assert _level(m, 6.0) == (Level.OK, "ok")


def test_worker_stall_and_death_are_node_errors() -> None:
    m = _monitor()
    _camera_at_10hz(m, 0.0, 5.0)
    m.beat(5.0)
    assert _level(m, 5.0, "node") == (Level.OK, "ok")
    assert _level(m, 8.0, "node") == (Level.ERROR, "worker stalled: no heartbeat for 3.0 s")
    m.beat(8.0)
    assert _level(m, 8.1, "node") == (Level.OK, "ok")
    m.on_frame_failure(8.1, "RuntimeError: detector exploded")
    assert _level(m, 8.2, "node") == (
        Level.WARN,
        "1 frames failed in the last 5 s: RuntimeError: detector exploded",
    )
    node = next(s for s in m.evaluate(8.2, worker_alive=False) if s.subject == "node")
    assert node.level == Level.ERROR and "worker thread is dead: RuntimeError" in node.message
    m.beat(13.5)
    assert _level(m, 13.5, "node") == (Level.OK, "ok")  # the failure left the window


def test_detector_faults_and_degradation() -> None:
    m = _monitor()
    m.on_detector_fault(1.0, "CUDA out of memory")
    m.set_detector_degraded("cuda out of memory: running on cpu")
    assert _level(m, 1.1, "node") == (Level.WARN, "1 detector faults in the last 5 s")
    m.beat(6.5)
    assert _level(m, 6.5, "node") == (Level.WARN, "detector degraded: cuda out of memory: running on cpu")
    m.set_detector_degraded("")
    assert _level(m, 6.5, "node") == (Level.OK, "ok")
