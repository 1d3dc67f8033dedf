"""Helpers for tests that talk to a live perception node over a real rclpy graph."""

from __future__ import annotations

import time
from collections.abc import Callable

from geometry_msgs.msg import Quaternion, Transform, TransformStamped, Vector3
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import Header


def spin_until(executor: SingleThreadedExecutor, done: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return True
        executor.spin_once(timeout_sec=0.05)
    return done()


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
