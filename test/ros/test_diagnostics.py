"""Health statuses -> DiagnosticArray: names, hardware ids, level bytes and key/values, serialized
and read back as a subscriber would receive them."""

from __future__ import annotations

import dataclasses

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.serialization import deserialize_message, serialize_message

from lepton_perception.core.health import CameraWindow, HealthConfig, Level, NodeWindow, evaluate
from lepton_perception.ros.diagnostics import LEVEL_BYTES, diagnostic_array

NODE = "lepton_perception"
FRONT = CameraWindow(
    key="front",
    window_s=5.0,
    frames_in=50,
    processed=50,
    last_input_age_s=0.02,
    latency_p95_s=0.0412,
    latency_max_s=0.05,
    intrinsics="camera_info",
    camera_info_total=50,
)
REAR = dataclasses.replace(  # stopped publishing 3 s ago; nine CameraInfo, all rejected
    FRONT,
    key="rear",
    last_input_age_s=3.0,
    intrinsics="none",
    camera_info_total=9,
    camera_info_rejected_total=9,
    camera_info_error="CameraInfo has zero width/height (uncalibrated camera)",
)
LEFT = dataclasses.replace(FRONT, key="left", decode_errors=4)


def _received() -> DiagnosticArray:
    node = NodeWindow(uptime_s=42.0, worker_heartbeat_age_s=0.01, cameras=(FRONT, REAR, LEFT))
    msg = diagnostic_array(evaluate(node, HealthConfig()), Time(sec=1700000000, nanosec=5), NODE)
    out: DiagnosticArray = deserialize_message(serialize_message(msg), DiagnosticArray)
    return out


def test_names_hardware_ids_and_levels_follow_the_conventions() -> None:
    arr = _received()
    assert (arr.header.stamp.sec, arr.header.stamp.nanosec) == (1700000000, 5)
    got = [(s.name, s.hardware_id, s.level) for s in arr.status]
    assert got == [
        ("lepton_perception: node", "lepton_perception", DiagnosticStatus.OK),
        ("lepton_perception: camera front", "front", b"\x00"),
        ("lepton_perception: camera rear", "rear", b"\x02"),
        ("lepton_perception: camera left", "left", b"\x01"),
    ]
    assert arr.status[2].message == (
        "no image for 3.0 s (timeout 1 s); received 9 CameraInfo, all rejected: CameraInfo has zero "
        "width/height (uncalibrated camera): tracked/predicted objects withheld"
    )
    assert arr.status[3].message == "4 undecodable frames skipped in the last 5 s"
    assert [LEVEL_BYTES[lv] for lv in Level] == [b"\x00", b"\x01", b"\x02", b"\x03"]


def test_key_values_carry_units_and_reasons() -> None:
    arr = _received()
    front = {kv.key: kv.value for kv in arr.status[1].values}
    assert front["input_hz"] == "10.000" and front["processed_hz"] == "10.000"
    assert front["latency_p95_ms"] == "41.200" and front["window_s"] == "5.000"
    assert front["decode_errors_in_window"] == "0" and front["intrinsics"] == "camera_info"
    rear = {kv.key: kv.value for kv in arr.status[2].values}
    assert rear["camera_info_received_total"] == "9" and rear["camera_info_rejected_total"] == "9"
    assert rear["camera_info_last_error"] == "CameraInfo has zero width/height (uncalibrated camera)"
    node = {kv.key: kv.value for kv in arr.status[0].values}
    assert node["worker_alive"] == "yes" and node["uptime_s"] == "42.000"


def test_a_dead_worker_reads_error_on_the_wire() -> None:
    node = NodeWindow(uptime_s=10.0, worker_alive=False, last_failure="ValueError: boom")
    arr = deserialize_message(
        serialize_message(diagnostic_array(evaluate(node, HealthConfig()), Time(), NODE)), DiagnosticArray
    )
    assert arr.status[0].level == DiagnosticStatus.ERROR
    assert arr.status[0].message == "worker thread is dead: ValueError: boom; no frame is processed"
