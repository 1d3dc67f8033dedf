"""Per-camera diagnostics levels: each rule, table-driven, with its exact message."""

from __future__ import annotations

import dataclasses

import pytest

from lepton_perception.ros.node_health import ERROR, OK, WARN, camera_status
from lepton_perception.ros.params import IoConfig
from lepton_perception.ros.runner import CameraSnapshot, RunnerDiagnostics

pytestmark = pytest.mark.ros  # the runner module imports the message packages

SNAP = CameraSnapshot(
    key="front",
    totals={"frames_in": 10, "processed": 10},
    window={"frames_in": 10, "processed": 10},
    window_s=1.0,
    camera_info_ok=True,
    camera_info_problem="",
    input_age_s=0.1,
    latency_ms_p50=50.0,
    latency_ms_p95=70.0,
    latency_ms_max=80.0,
    stage_ms_mean={"detect": 40.0},
)
DIAG = RunnerDiagnostics(
    cameras={"front": SNAP},
    detector="onnxruntime/cpu",
    detector_faults=0,
    cpu_fallbacks=0,
    last_failure="",
    heartbeat_age_s=0.1,
    predictor_fallbacks={},
)


@pytest.mark.parametrize(
    ("snap", "diag", "io", "alive", "waiting", "level", "message"),
    [
        ({}, {}, {}, True, False, OK, "ok"),
        ({}, {}, {}, False, False, ERROR, "worker thread is not running: no frames are processed"),
        ({}, {"heartbeat_age_s": 7.0}, {}, True, True, ERROR, "worker stalled: no frame processed for 7.0 s"),
        ({}, {"heartbeat_age_s": 7.0}, {}, True, False, OK, "ok"),  # idle, nothing waiting: no stall
        (
            {"camera_info_ok": False},
            {},
            {},
            True,
            False,
            ERROR,
            "no CameraInfo received: tracked/predicted objects withheld",
        ),
        (
            {
                "camera_info_ok": False,
                "camera_info_problem": "CameraInfo has zero width/height (uncalibrated camera)",
                "totals": {"frames_in": 10, "camera_info_received": 9, "camera_info_errors": 9},
            },
            {},
            {},
            True,
            False,
            ERROR,
            "CameraInfo rejected (9 received): CameraInfo has zero width/height (uncalibrated camera): "
            "tracked/predicted objects withheld",
        ),
        (
            {"camera_info_ok": False},
            {},
            {"fallback_hfov_deg": 70.0},
            True,
            False,
            WARN,
            "no CameraInfo received: positions from an assumed 70 deg FOV",
        ),
        ({"input_age_s": 45.0}, {}, {}, True, False, ERROR, "no input for 45.0 s"),
        (
            {"window": {"frames_in": 5, "frame_errors": 2, "decode_errors": 1}},
            {},
            {},
            True,
            False,
            WARN,
            "this period: 2 frame errors, 1 decode errors",
        ),
        (
            {},
            {"detector_faults": 1, "cpu_fallbacks": 1},
            {},
            True,
            False,
            WARN,
            "detector fell back to the CPU after 1 device fault(s)",
        ),
    ],
)
def test_levels(snap, diag, io, alive, waiting, level, message) -> None:
    s = dataclasses.replace(SNAP, **snap)
    d = dataclasses.replace(DIAG, **diag)
    got_level, got_message, values = camera_status(
        s, d, IoConfig(**io), worker_alive=alive, frames_waiting=waiting
    )
    assert (got_level, got_message) == (level, message)
    assert values["detect_ms_mean"] == 40.0 and "processed_hz" in values


def test_a_warning_clears_the_period_after_its_cause() -> None:
    bad = dataclasses.replace(SNAP, window={"decode_errors": 3}, totals={"frames_in": 10, "decode_errors": 3})
    assert camera_status(bad, DIAG, IoConfig(), worker_alive=True, frames_waiting=False)[0] == WARN
    clean = dataclasses.replace(bad, window={"frames_in": 10, "processed": 10})
    level, _, values = camera_status(clean, DIAG, IoConfig(), worker_alive=True, frames_waiting=False)
    assert level == OK and values["decode_errors"] == 3  # the total stays, the level clears
