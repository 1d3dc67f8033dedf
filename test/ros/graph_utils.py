"""Helpers for tests that talk to a live perception node over a real rclpy graph."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from geometry_msgs.msg import Quaternion, Transform, TransformStamped, Vector3
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header


def spin_until(executor: SingleThreadedExecutor, done: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return True
        executor.spin_once(timeout_sec=0.05)
    return done()


def camera_publishers(
    node: Node, executor: SingleThreadedExecutor, camera_ns: str, qos: QoSProfile
) -> tuple[Any, Any]:
    """(image, CameraInfo) publishers of a camera namespace, once the perception node subscribes to
    its images (asserted within 60 s)."""
    image = node.create_publisher(Image, f"{camera_ns}/image_raw", qos)
    info = node.create_publisher(CameraInfo, f"{camera_ns}/camera_info", qos)
    assert spin_until(executor, lambda: image.get_subscription_count() > 0, 60.0), "node never subscribed"
    return image, info


def stamped_transform(
    parent: str, child: str, xyz: tuple[float, ...], q: tuple[float, ...]
) -> TransformStamped:
    """A static mount: ``child`` at ``xyz`` m in ``parent``, rotated by the quaternion ``q`` (x, y, z, w)."""
    return TransformStamped(
        header=Header(frame_id=parent),
        child_frame_id=child,
        transform=Transform(
            translation=Vector3(x=xyz[0], y=xyz[1], z=xyz[2]),
            rotation=Quaternion(x=q[0], y=q[1], z=q[2], w=q[3]),
        ),
    )
