"""``lepton bag play`` in its own process: every message at recorded stamps, remaps, and /clock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image

from lepton_perception.ros.conversions import time_to_ns
from lepton_perception.ros.node_process import ros_env
from lepton_perception.tools.bag import video_to_bag

from ..ros.graph_utils import spin_until

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)


def test_bag_play_publishes_every_message_with_clock_and_remaps(tmp_path: Path, shared: Path) -> None:
    bag = tmp_path / "bag"
    video_to_bag(str(shared / "data/video/pets09_s2l1_vtest.avi"), str(bag), fps=20.0, max_frames=5)
    rclpy.init()
    node = rclpy.create_node("play_test")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    images: list[Image] = []
    infos: list[CameraInfo] = []
    clocks: list[Clock] = []
    node.create_subscription(Image, "/front/image_raw", images.append, reliable)
    node.create_subscription(CameraInfo, "/camera/camera_info", infos.append, reliable)
    node.create_subscription(Clock, "/clock", clocks.append, reliable)
    cmd = [
        sys.executable,
        "-m",
        "lepton_perception.tools.cli",
        "bag",
        "play",
        str(bag),
        "--clock",
        "--rate",
        "2",
        "--remap",
        "/camera/image_raw:=/front/image_raw",
        "--wait-s",
        "20",
    ]
    proc = subprocess.Popen(cmd, env=ros_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert spin_until(executor, lambda: len(images) == 5 and len(infos) == 5, 60.0), (
            len(images),
            len(infos),
        )
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    stamps = [time_to_ns(m.header.stamp) for m in images]
    assert stamps == sorted(stamps) and stamps[1] - stamps[0] == 50_000_000
    clock_ns = [time_to_ns(c.clock) for c in clocks]
    assert clock_ns == sorted(clock_ns) and set(stamps) <= set(clock_ns)
