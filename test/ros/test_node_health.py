"""The node's one health evaluator (``core/health.py``) fed by the runner: levels and exact messages.

Real messages through a real ``PerceptionRunner``; the monitor's clock is wall time, so the windows here
are short (``health.window_s`` 0.5 s) and the tests sleep a few tenths of a second at most.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.core.health import HealthStatus, Level
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
from lepton_perception.ros.params import config_from_values
from lepton_perception.ros.runner import PerceptionRunner

pytestmark = pytest.mark.ros  # the runner module imports the message packages

T0 = 1_700_000_000_000_000_000
FAST = {  # short window, generous floors: only the rule under test can fire
    "io.cameras": ["/front"],
    "io.publish_annotated_image": False,
    "io.publish_markers": False,
    "detector.backend": "onnxruntime",
    "health.window_s": 0.5,
    "health.input_timeout_s": 0.3,
    "health.min_processed_warn_hz": 0.0,
    "health.min_processed_error_hz": 0.0,
}


def _runner(**values: object) -> PerceptionRunner:
    return PerceptionRunner(config_from_values({**FAST, **values}))


def _msg(frame: np.ndarray, k: int) -> Image:
    return image_to_msg(frame, Header(stamp=ns_to_time(T0 + k * 100_000_000), frame_id="cam"))


def _good_info(frame: np.ndarray) -> CameraInfo:
    h, w = frame.shape[:2]
    return intrinsics_to_camera_info(CameraIntrinsics.from_fov(w, h, 60.0), Header(frame_id="cam"))


def _camera(runner: PerceptionRunner) -> HealthStatus:
    return runner.health(worker_alive=True)[1]


def _feed(runner: PerceptionRunner, frames: list[np.ndarray], ks: range) -> None:
    for k in ks:
        for out in runner.process([("front", _msg(frames[k % len(frames)], k))]):
            if out.messages is not None:
                runner.record_latency("front", 5.0)


def test_no_input_is_an_error_after_the_timeout() -> None:
    runner = _runner()
    assert _camera(runner).message.startswith("waiting for the first image; no CameraInfo received")
    time.sleep(0.35)
    st = _camera(runner)
    assert st.level == Level.ERROR and st.message.startswith("no image received in 0.")


def test_a_camera_that_stops_is_an_error_and_clears_when_frames_return(pets_frames) -> None:
    runner = _runner()
    runner.set_camera_info("front", _good_info(pets_frames[0]))
    _feed(runner, pets_frames, range(2))
    assert (_camera(runner).level, _camera(runner).message) == (Level.OK, "ok")
    time.sleep(0.35)
    st = _camera(runner)
    assert st.level == Level.ERROR and st.message.startswith("no image for 0.")
    _feed(runner, pets_frames, range(2, 4))
    assert (_camera(runner).level, _camera(runner).message) == (Level.OK, "ok")


def test_a_45_s_frame_is_an_error_until_it_leaves_the_window(pets_frames) -> None:
    runner = _runner()
    runner.set_camera_info("front", _good_info(pets_frames[0]))
    _feed(runner, pets_frames, range(1))
    runner.record_latency("front", 45_000.0)
    st = _camera(runner)
    assert (st.level, st.message) == (Level.ERROR, "latency up to 45.00 s (ceiling 2 s)")
    time.sleep(0.55)
    _feed(runner, pets_frames, range(1, 3))
    assert _camera(runner).level == Level.OK


def test_rejected_camera_info_says_how_many_were_received_then_clears(pets_frames) -> None:
    runner = _runner()
    for _ in range(9):
        runner.set_camera_info("front", CameraInfo(header=Header(frame_id="cam")))  # zero size
    _feed(runner, pets_frames, range(2))
    st = _camera(runner)
    assert (st.level, st.message) == (
        Level.ERROR,
        "received 9 CameraInfo, all rejected: CameraInfo has zero width/height (uncalibrated camera): "
        "tracked/predicted objects withheld",
    )
    values = dict(st.values)
    assert values["camera_info_received_total"] == 9 and values["planning_withheld_total"] == 2
    runner.set_camera_info("front", _good_info(pets_frames[0]))
    _feed(runner, pets_frames, range(2, 3))
    assert (_camera(runner).level, _camera(runner).message) == (Level.OK, "ok")


def test_never_received_camera_info_is_an_error_and_a_fallback_fov_a_warning(pets_frames) -> None:
    runner = _runner()
    _feed(runner, pets_frames, range(2))
    assert (_camera(runner).level, _camera(runner).message) == (
        Level.ERROR,
        "no CameraInfo received: tracked/predicted objects withheld",
    )
    fallback = _runner(**{"io.fallback_hfov_deg": 70.0})
    _feed(fallback, pets_frames, range(2))
    assert (_camera(fallback).level, _camera(fallback).message) == (
        Level.WARN,
        "no valid CameraInfo: ground positions from an assumed field of view",
    )


def test_frames_over_the_pixel_cap_are_decode_errors_this_window(pets_frames) -> None:
    runner = _runner(**{"io.max_image_pixels": 640 * 480})  # PETS frames are 768x576
    runner.set_camera_info("front", _good_info(pets_frames[0]))
    (out,) = runner.process([("front", _msg(pets_frames[0], 0))])
    assert out.skipped == "decode_errors"
    st = _camera(runner)
    assert st.level == Level.WARN and st.message == "1 undecodable frames skipped in the last 0 s"
    assert dict(st.values)["decode_errors_total"] == 1


def test_a_dead_worker_and_frame_failures_are_node_findings() -> None:
    runner = _runner()
    node = runner.health(worker_alive=False)[0]
    assert (node.subject, node.level) == ("node", Level.ERROR)
    assert node.message == "worker thread is dead; no frame is processed"
    bad = Image(header=Header(stamp=ns_to_time(T0)), height=2, width=3, encoding="yuv422", step=6)
    bad.data = bytes(12)
    runner.process([("front", bad)])  # an odd-width 4:2:2 frame: a decode error, the worker goes on
    assert runner.health(worker_alive=True)[0].level == Level.OK
