"""Python log records of the core reach /rosout through the node's ROS logger, at its log level."""

from __future__ import annotations

import logging

import pytest
import rclpy
from rcl_interfaces.msg import Log
from rclpy.executors import SingleThreadedExecutor
from rclpy.logging import LoggingSeverity, set_logger_level
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from lepton_perception.ros.perception_node import route_python_logging

from .graph_utils import spin_until

pytestmark = pytest.mark.ros


def test_python_records_go_to_rosout_and_honour_the_level() -> None:
    rclpy.init()
    node = rclpy.create_node("logging_test_node")
    listener = rclpy.create_node("logging_test_listener")
    executor = SingleThreadedExecutor()
    executor.add_node(listener)
    got: list[Log] = []
    qos = QoSProfile(
        depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
    )
    listener.create_subscription(Log, "/rosout", got.append, qos)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        set_logger_level("logging_test_node", LoggingSeverity.WARN)  # as --log-level warn would
        route_python_logging(node)
        assert root.level == logging.WARNING
        core = logging.getLogger("lepton_perception.ros.runner")
        core.info("an info record that must not appear")
        core.warning("camera front: frame failed, skipped: ValueError: boom")
        assert spin_until(executor, lambda: any("boom" in m.msg for m in got), 10.0)
        (msg,) = [m for m in got if m.name == "logging_test_node"]
        assert (
            msg.msg == "[lepton_perception.ros.runner] camera front: frame failed, skipped: ValueError: boom"
        )
        assert msg.level == Log.WARN
        assert not any("must not appear" in m.msg for m in got)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        executor.shutdown()
        node.destroy_node()
        listener.destroy_node()
        rclpy.try_shutdown()
