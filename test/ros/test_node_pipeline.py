"""The node's two threads (``io.pipeline``): the worker detects, the output thread tracks and publishes.
A stalled output thread must show as a node ERROR, and the node must recover when it moves again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.core.health import Level
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
from lepton_perception.ros.perception_node import PerceptionNode, pipelines

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)

T0 = 1_700_000_000_000_000_000


@pytest.fixture()
def node() -> Iterator[PerceptionNode]:
    rclpy.init()
    overrides = [
        Parameter("io.cameras", value=["/front"]),
        Parameter("detector.backend", value="onnxruntime"),
        Parameter("health.heartbeat_timeout_s", value=1.0),  # idle wake-ups beat every 0.5 s
        Parameter("io.pipeline", value="always"),
    ]
    n = PerceptionNode(parameter_overrides=overrides)
    try:
        yield n
    finally:
        n.destroy_node()
        rclpy.shutdown()


def _until(cond: Any, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


def _node_status(n: PerceptionNode) -> tuple[Level, str]:
    st = n.runner.health(worker_alive=n._workers_alive())[0]
    return st.level, st.message


def test_a_stalled_output_thread_is_a_node_error_until_it_moves(
    node: PerceptionNode, pets_frames: list[np.ndarray]
) -> None:
    h, w = pets_frames[0].shape[:2]
    node.runner.set_camera_info(
        "front", intrinsics_to_camera_info(CameraIntrinsics.from_fov(w, h, 60.0), Header())
    )
    gate = threading.Event()
    finish = node.runner.finish
    node.runner.finish = lambda *a, **k: (gate.wait(30.0), finish(*a, **k))[1]  # type: ignore[method-assign]

    def frame(k: int) -> Any:
        return image_to_msg(pets_frames[k], Header(stamp=ns_to_time(T0 + k * 100_000_000), frame_id="cam"))

    node._on_image("front", frame(0))
    assert _until(lambda: node._handover is None and not node._pending, 10.0)  # taken by the output thread
    node._on_image("front", frame(1))  # detected, then waits for the stuck output thread
    assert _until(lambda: node._handover is not None, 10.0)
    assert _until(lambda: _node_status(node)[0] == Level.ERROR, 5.0), _node_status(node)
    assert "worker stalled" in _node_status(node)[1]
    assert node._workers_alive()

    gate.set()
    assert _until(lambda: node.runner.diagnostics().cameras["front"].totals.get("processed", 0) == 2, 10.0)
    node._on_image("front", frame(2))
    assert _until(lambda: node.runner.diagnostics().cameras["front"].totals.get("processed", 0) == 3, 10.0)
    assert "worker stalled" not in _node_status(node)[1]


@pytest.mark.parametrize(
    ("mode", "device", "cpu_threads", "cores", "expected"),
    [
        ("auto", "cpu", 0, 2, False),  # the runtime's default: a thread per core, none left
        ("auto", "cpu", 2, 2, False),
        ("auto", "cpu", 1, 2, True),  # one core left for tracking and publishing
        ("auto", "cpu", 4, 16, True),
        ("auto", "cuda:0", 0, 2, True),  # the network runs on the GPU
        ("always", "cpu", 0, 2, True),
        ("never", "cuda:0", 1, 16, False),
    ],
)
def test_auto_pipelines_only_when_the_detector_leaves_a_core(
    mode: str, device: str, cpu_threads: int, cores: int, expected: bool
) -> None:
    assert pipelines(mode, device, cpu_threads, cores) is expected
