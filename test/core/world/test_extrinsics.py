"""Camera extrinsics from a static transform tree: chain composition and the optical-frame pose."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lepton_perception.core.camera import CameraPose
from lepton_perception.core.world.extrinsics import (
    RigidTransform,
    StaticTransforms,
    camera_pose_from_transform,
)

# camera_link -> camera_optical_frame as every URDF writes it: rpy (-pi/2, 0, -pi/2).
OPTICAL_Q = (-0.5, 0.5, -0.5, 0.5)


def _yaw_pitch_q(yaw: float, pitch: float) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of Rz(yaw) Ry(pitch)."""
    cy, sy, cp, sp = math.cos(yaw / 2), math.sin(yaw / 2), math.cos(pitch / 2), math.sin(pitch / 2)
    return (-sy * sp, cy * sp, sy * cp, cy * cp)


def test_mount_chain_gives_the_camera_pose() -> None:
    """base_link -> camera_link (1.5, 0.2, 1.6 m; yaw 10 deg, 5 deg down) -> optical frame."""
    tree = StaticTransforms()
    yaw, pitch = math.radians(10.0), math.radians(5.0)
    tree.add(
        "base_link", "camera_link", RigidTransform.from_quaternion((1.5, 0.2, 1.6), _yaw_pitch_q(yaw, pitch))
    )
    tree.add("camera_link", "camera_optical_frame", RigidTransform.from_quaternion((0, 0, 0), OPTICAL_Q))
    t = tree.lookup("base_link", "camera_optical_frame")
    assert t is not None
    pose = camera_pose_from_transform(t)
    want = CameraPose(x_m=1.5, y_m=0.2, z_m=1.6, pitch_rad=pitch, yaw_rad=yaw)
    assert (pose.x_m, pose.y_m, pose.z_m) == pytest.approx((1.5, 0.2, 1.6))
    assert (pose.roll_rad, pose.pitch_rad, pose.yaw_rad) == pytest.approx((0.0, pitch, yaw), abs=1e-9)
    np.testing.assert_allclose(pose.rotation(), want.rotation(), atol=1e-9)


@given(
    st.floats(-3.0, 3.0), st.floats(-1.5, 1.5), st.floats(-3.0, 3.0),
    st.floats(-5, 5), st.floats(-5, 5), st.floats(0, 5),
)  # fmt: skip
def test_camera_pose_round_trip(roll: float, pitch: float, yaw: float, x: float, y: float, z: float) -> None:
    """The optical frame's transform of any CameraPose gives that pose back (same rotation)."""
    pose = CameraPose(x_m=x, y_m=y, z_m=z, roll_rad=roll, pitch_rad=pitch, yaw_rad=yaw)
    back = camera_pose_from_transform(RigidTransform(pose.rotation(), pose.translation()))
    np.testing.assert_allclose(back.rotation(), pose.rotation(), atol=1e-9)
    np.testing.assert_allclose(back.translation(), pose.translation(), atol=1e-12)


def test_lookup_through_a_common_ancestor_and_unconnected_frames() -> None:
    tree = StaticTransforms()
    tree.add("base_link", "a", RigidTransform.from_quaternion((1, 0, 0), (0, 0, 0, 1)))
    tree.add("base_link", "b", RigidTransform.from_quaternion((0, 2, 0), (0, 0, 0, 1)))
    a_in_b = tree.lookup("b", "a")
    assert a_in_b is not None
    np.testing.assert_allclose(a_in_b.translation_m, [1.0, -2.0, 0.0])
    assert tree.lookup("base_link", "elsewhere") is None
    tree.add("x", "y", RigidTransform.identity())
    assert tree.lookup("base_link", "y") is None  # two trees, not connected


def test_a_loop_or_a_bad_transform_is_refused() -> None:
    tree = StaticTransforms()
    tree.add("a", "b", RigidTransform.identity())
    tree.add("b", "a", RigidTransform.identity())
    assert tree.lookup("a", "b") is None
    with pytest.raises(ValueError, match="rigid"):
        RigidTransform.from_quaternion((0, 0, 0), (0, 0, 0, 0))
    with pytest.raises(ValueError, match="two different"):
        tree.add("a", "a", RigidTransform.identity())
