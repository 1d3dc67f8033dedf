"""``lepton process`` on a bag with Odometry and two overlapping cameras: the bag's odometry reaches the
runner as the node's subscription does, and the fused list is recorded in the odometry frame."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)

T0_NS = 1_700_000_000_000_000_000
DT_NS = 100_000_000


def test_process_feeds_odometry_and_records_the_fused_list(
    tmp_path: Path, pets_frames: list[np.ndarray]
) -> None:
    from geometry_msgs.msg import Quaternion
    from nav_msgs.msg import Odometry
    from std_msgs.msg import Header

    from lepton_perception.core.camera import CameraIntrinsics
    from lepton_perception.ros.bag import BagWriter, read_bag
    from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
    from lepton_perception.ros.params import config_from_values
    from lepton_perception.tools.process import process

    values: dict[str, object] = {
        "io.cameras": ["/left", "/right"],
        "io.publish_annotated_image": False,
        "detector.backend": "onnxruntime",
    }
    for cam in ("left", "right"):  # the same mount: fully overlapping fields of view
        values |= {f"camera_poses.{cam}.z_m": 5.0, f"camera_poses.{cam}.pitch_rad": 0.35}
    config = config_from_values(values)
    h, w = pets_frames[0].shape[:2]
    intr = CameraIntrinsics.from_fov(w, h, 60.0)
    bag = tmp_path / "in"
    with BagWriter(bag) as writer:
        for k in range(8):
            t_ns = T0_NS + k * DT_NS
            odom = Odometry(header=Header(stamp=ns_to_time(t_ns + DT_NS), frame_id="odom"))
            odom.pose.pose.position.y = 1.0 * (k + 1)  # 10 m/s along odom +y, facing it
            odom.pose.pose.orientation = Quaternion(z=math.sin(math.pi / 4), w=math.cos(math.pi / 4))
            if k == 0:
                first = Odometry(header=Header(stamp=ns_to_time(t_ns), frame_id="odom"))
                first.pose.pose.orientation = odom.pose.pose.orientation
                writer.write(config.world.odometry_topic, first, t_ns - 1)
            writer.write(config.world.odometry_topic, odom, t_ns)
            header = Header(stamp=ns_to_time(t_ns), frame_id="cam")
            for cam in ("left", "right"):
                writer.write(f"/{cam}/camera_info", intrinsics_to_camera_info(intr, header), t_ns)
                writer.write(f"/{cam}/image_raw", image_to_msg(pets_frames[k], header), t_ns)
    summary = process(config, str(bag), str(tmp_path / "out"))
    assert summary["frames"] == 16
    out: dict[str, list] = {}
    for m in read_bag(tmp_path / "out"):
        out.setdefault(m.topic, []).append(m.msg)
    fused, objects = out["/perception/tracked_objects"], out["/perception/objects"]
    assert len(fused) == len(objects) == 16  # one fused list per processed image
    assert {m.header.frame_id for m in fused + objects + out["/perception/left/tracked_objects"]} == {"odom"}
    last_left = out["/perception/left/tracked_objects"][-1]
    assert len(last_left.objects) >= 3
    # The same people in both cameras: the fused list has each once, ahead of the ego in odom y.
    assert len(fused[-1].objects) == len(last_left.objects)
    assert all(o.kinematics.pose_with_covariance.pose.position.y > 0 for o in fused[-1].objects)


def test_process_takes_camera_extrinsics_from_the_bags_tf_static(
    tmp_path: Path, pets_frames: list[np.ndarray]
) -> None:
    """A bag's /tf_static mount (looking forward) wins over parameters that look backwards, as in
    the node: the objects are recorded ahead of base_link."""
    from geometry_msgs.msg import Quaternion, Transform, TransformStamped, Vector3
    from std_msgs.msg import Header
    from tf2_msgs.msg import TFMessage

    from lepton_perception.core.camera import CameraIntrinsics
    from lepton_perception.ros.bag import BagWriter, read_bag
    from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
    from lepton_perception.ros.params import config_from_values
    from lepton_perception.tools.process import process

    values: dict[str, object] = {
        "io.cameras": ["/front"],
        "io.publish_annotated_image": False,
        "detector.backend": "onnxruntime",
        "camera_poses.front.z_m": 5.0,
        "camera_poses.front.pitch_rad": 0.35,
        "camera_poses.front.yaw_rad": 3.1,  # backwards: objects would be behind the vehicle
    }
    config = config_from_values(values)
    h, w = pets_frames[0].shape[:2]
    intr = CameraIntrinsics.from_fov(w, h, 60.0)
    pitch = 0.35

    def stamped(parent: str, child: str, z: float, q: tuple[float, ...]) -> TransformStamped:
        rot = Quaternion(x=q[0], y=q[1], z=q[2], w=q[3])
        return TransformStamped(
            header=Header(frame_id=parent), child_frame_id=child,
            transform=Transform(translation=Vector3(z=z), rotation=rot),
        )  # fmt: skip

    mount = TFMessage(
        transforms=[
            stamped("base_link", "front_link", 5.0, (0.0, math.sin(pitch / 2), 0.0, math.cos(pitch / 2))),
            stamped("front_link", "front_optical", 0.0, (-0.5, 0.5, -0.5, 0.5)),
        ]
    )
    bag = tmp_path / "in"
    with BagWriter(bag) as writer:
        writer.write("/tf_static", mount, T0_NS - 1)
        for k in range(4):
            t_ns = T0_NS + k * DT_NS
            header = Header(stamp=ns_to_time(t_ns), frame_id="front_optical")
            writer.write("/front/camera_info", intrinsics_to_camera_info(intr, header), t_ns)
            writer.write("/front/image_raw", image_to_msg(pets_frames[k], header), t_ns)
    assert process(config, str(bag), str(tmp_path / "out"))["frames"] == 4
    tracked = [m.msg for m in read_bag(tmp_path / "out") if m.topic == "/perception/front/tracked_objects"]
    assert tracked and len(tracked[-1].objects) >= 3
    assert all(o.kinematics.pose_with_covariance.pose.position.x > 2.0 for o in tracked[-1].objects)
