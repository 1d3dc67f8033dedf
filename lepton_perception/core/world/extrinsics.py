"""Camera extrinsics from a static transform tree (what ``/tf_static`` carries), ROS-free.

robot_state_publisher publishes the fixed mounts of a vehicle as parent -> child transforms
(``base_link -> camera_link -> camera_optical_frame``). ``StaticTransforms`` keeps them (each child has
one parent, the newest transform per child wins) and composes the chain between any two frames of
the tree. ``camera_pose_from_transform`` turns the transform of a camera's *optical* frame (the
``frame_id`` of its Image and CameraInfo, REP 103: z forward, x right, y down) in ``base_link`` into
the ``CameraPose`` the ground projection uses (camera body x forward, roll/pitch/yaw, ``core/camera.py``).

Convention (as tf2): the transform of ``child`` in ``parent`` takes points expressed in ``child`` into
``parent``: ``p_parent = R p_child + t``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lepton_perception.core.camera import R_BODY_OPTICAL, CameraPose

F64 = npt.NDArray[np.float64]

# Optical-frame axes (z forward, x right, y down) in the camera body frame (x forward, y left, z up),
# REP 103: the rotation ``CameraPose.rotation`` is built on.
_BODY_FROM_OPTICAL: F64 = R_BODY_OPTICAL


@dataclass(frozen=True)
class RigidTransform:
    """Rotation (3, 3) and translation (3,) m taking points of a child frame into its parent."""

    rotation: F64
    translation_m: F64

    @staticmethod
    def identity() -> RigidTransform:
        return RigidTransform(np.eye(3), np.zeros(3))

    @staticmethod
    def from_quaternion(translation_m: npt.ArrayLike, quaternion_xyzw: npt.ArrayLike) -> RigidTransform:
        """A transform from a translation (3,) and a unit quaternion (x, y, z, w) as in
        ``geometry_msgs/Transform``; the quaternion is normalised, a zero or non-finite one is an error."""
        t = np.asarray(translation_m, dtype=np.float64).reshape(3)
        q = np.asarray(quaternion_xyzw, dtype=np.float64).reshape(4)
        n = float(np.linalg.norm(q))
        if not (np.isfinite(t).all() and np.isfinite(q).all()) or n < 1e-9:
            raise ValueError(f"not a rigid transform: translation {t}, quaternion {q}")
        x, y, z, w = q / n
        rot = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
        return RigidTransform(rot, t)

    def then(self, child: RigidTransform) -> RigidTransform:
        """``self`` (B in A) composed with ``child`` (C in B): C in A."""
        return RigidTransform(
            self.rotation @ child.rotation, self.rotation @ child.translation_m + self.translation_m
        )

    def inverse(self) -> RigidTransform:
        rt = self.rotation.T
        return RigidTransform(rt, -rt @ self.translation_m)


@dataclass
class StaticTransforms:
    """A tree of static transforms: child frame -> (parent frame, child in parent)."""

    _parent: dict[str, tuple[str, RigidTransform]] = field(default_factory=dict)

    def add(self, parent: str, child: str, transform: RigidTransform) -> None:
        """Add or replace the mount of ``child`` (a frame has one parent; the newest wins)."""
        if not parent or not child or parent == child:
            raise ValueError(f"a static transform needs two different frame names: {parent!r} -> {child!r}")
        self._parent[child] = (parent, transform)

    def __len__(self) -> int:
        return len(self._parent)

    def lookup(self, target: str, source: str) -> RigidTransform | None:
        """``source`` in ``target`` (points of ``source`` into ``target``), through their common
        ancestor; None when the frames are not connected (yet)."""
        up_source, up_target = self._to_root(source), self._to_root(target)
        if up_source is None or up_target is None:
            return None
        common = next((f for f in up_source if f in up_target), None)
        if common is None:
            return None
        return up_target[common].inverse().then(up_source[common])

    def _to_root(self, frame: str) -> dict[str, RigidTransform] | None:
        """Every ancestor of ``frame`` (itself included) -> ``frame`` in that ancestor, nearest
        first; None on a loop (a malformed tree)."""
        chain = {frame: RigidTransform.identity()}
        current, acc = frame, RigidTransform.identity()
        while current in self._parent:
            parent, t = self._parent[current]
            if parent in chain:
                return None
            acc = t.then(acc)
            chain[parent] = acc
            current = parent
        return chain


def camera_pose_from_transform(optical_in_vehicle: RigidTransform) -> CameraPose:
    """The ``CameraPose`` of a camera whose optical frame has this transform in the vehicle frame."""
    body = optical_in_vehicle.rotation @ _BODY_FROM_OPTICAL.T  # camera body (x forward) in the vehicle
    yaw = math.atan2(body[1, 0], body[0, 0])
    pitch = math.asin(float(np.clip(-body[2, 0], -1.0, 1.0)))
    roll = math.atan2(body[2, 1], body[2, 2])
    x, y, z = (float(v) for v in optical_in_vehicle.translation_m)
    return CameraPose(x_m=x, y_m=y, z_m=z, roll_rad=roll, pitch_rad=pitch, yaw_rad=yaw)
