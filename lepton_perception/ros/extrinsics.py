"""Camera extrinsics for the node: ``/tf_static`` when it has the camera's mount, parameters otherwise.

``tf2_msgs/TFMessage`` from ``/tf_static`` (robot_state_publisher) fills a ROS-free
``StaticTransforms`` tree (``core/world/extrinsics.py``); a camera whose image ``frame_id`` (its
optical frame) connects to the vehicle frame in that tree takes its ``CameraPose`` from the composed
chain, any other camera its ``camera_poses.*`` parameters. Thread-safe: transforms arrive on the
executor thread, images are processed on the worker.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal

from lepton_perception.core.camera import CameraPose
from lepton_perception.core.world.extrinsics import (
    RigidTransform,
    StaticTransforms,
    camera_pose_from_transform,
)

try:  # an interface package: the overlay (scripts/build_msgs.sh) or the ROS install provides it
    from tf2_msgs.msg import TFMessage
except ImportError:  # an overlay built before tf2_msgs was added: extrinsics from parameters only
    TFMessage = None

log = logging.getLogger(__name__)

Source = Literal["tf_static", "parameters"]


def transforms_from_msg(msg: Any) -> list[tuple[str, str, RigidTransform]]:
    """(parent, child, child in parent) of each valid ``geometry_msgs/TransformStamped`` of a
    ``TFMessage``; malformed ones (no frame names, non-finite or zero quaternion) are left out."""
    out = []
    for ts in msg.transforms:
        t, q = ts.transform.translation, ts.transform.rotation
        try:
            rigid = RigidTransform.from_quaternion((t.x, t.y, t.z), (q.x, q.y, q.z, q.w))
        except ValueError:
            continue
        parent, child = ts.header.frame_id.lstrip("/"), ts.child_frame_id.lstrip("/")
        if parent and child and parent != child:
            out.append((parent, child, rigid))
    return out


class CameraExtrinsics:
    """``pose(frame_id, fallback)``: the camera pose from ``/tf_static`` when the tree connects the
    camera's frame to ``vehicle_frame``, else ``fallback`` (its parameters); and which one it was."""

    def __init__(self, vehicle_frame: str = "base_link") -> None:
        self.vehicle_frame = vehicle_frame
        self._tree = StaticTransforms()
        self._lock = threading.Lock()
        self.rejected = 0  # malformed transforms left out

    @property
    def available(self) -> bool:
        """tf2_msgs is importable, so the node can subscribe to /tf_static."""
        return TFMessage is not None

    def add_tf_static(self, msg: Any) -> None:
        """One ``tf2_msgs/TFMessage`` from ``/tf_static`` (any thread)."""
        good = transforms_from_msg(msg)
        with self._lock:
            self.rejected += len(msg.transforms) - len(good)
            for parent, child, rigid in good:
                self._tree.add(parent, child, rigid)

    def pose(self, frame_id: str, fallback: CameraPose) -> tuple[CameraPose, Source]:
        with self._lock:
            t = self._tree.lookup(self.vehicle_frame, frame_id.lstrip("/")) if frame_id else None
        if t is None:
            return fallback, "parameters"
        return camera_pose_from_transform(t), "tf_static"
