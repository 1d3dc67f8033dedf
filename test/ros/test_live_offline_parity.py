"""A bag with Odometry and two overlapping cameras gives the same fused objects through the live node
(its own process, the bag's messages published in the bag's order) as through ``lepton process``:
same stamps, same object ids, same positions within float tolerance (docs/world.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from autoware_perception_msgs.msg import TrackedObjects
from geometry_msgs.msg import Quaternion
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros.bag import BagWriter, read_bag
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
from lepton_perception.ros.graph import Graph
from lepton_perception.ros.params import config_from_values, default_params_file
from lepton_perception.tools.process import process

from .graph_utils import spin_until

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)

T0_NS = 1_700_000_000_000_000_000
DT_NS = 100_000_000
FRAMES = 6
CAMS = ("left", "right")
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
# The same settings for lepton process (config values) and the node (parameter overrides).
SETTINGS: dict[str, object] = {
    "io.cameras": ["/left", "/right"],
    "io.publish_annotated_image": False,
    "io.image_reliability": "reliable",
    "detector.backend": "onnxruntime",
    **{f"camera_poses.{c}.{k}": v for c in CAMS for k, v in (("z_m", 5.0), ("pitch_rad", 0.35))},
}
OVERRIDES = {k: json.dumps(v) if isinstance(v, list | bool) else str(v) for k, v in SETTINGS.items()}


def _odometry(stamp_ns: int, y: float) -> Odometry:
    msg = Odometry(header=Header(stamp=ns_to_time(stamp_ns), frame_id="odom"), child_frame_id="base_link")
    msg.pose.pose.position.y = y  # 10 m/s along odom +y, facing it
    msg.pose.pose.orientation = Quaternion(z=math.sin(math.pi / 4), w=math.cos(math.pi / 4))
    return msg


def _write_bag(path: Path, frames: list[np.ndarray], odometry_topic: str) -> None:
    h, w = frames[0].shape[:2]
    intr = CameraIntrinsics.from_fov(w, h, 60.0)
    with BagWriter(path) as writer:
        writer.write(odometry_topic, _odometry(T0_NS, 0.0), T0_NS - 1)
        for k in range(FRAMES):
            t_ns = T0_NS + k * DT_NS
            writer.write(odometry_topic, _odometry(t_ns + DT_NS, 1.0 * (k + 1)), t_ns)
            header = Header(stamp=ns_to_time(t_ns), frame_id="cam")
            for cam in CAMS:
                writer.write(f"/{cam}/camera_info", intrinsics_to_camera_info(intr, header), t_ns)
                writer.write(f"/{cam}/image_raw", image_to_msg(frames[k], header), t_ns)


def _offline(tmp_path: Path, bag: Path) -> list[TrackedObjects]:
    process(config_from_values(SETTINGS), str(bag), str(tmp_path / "out"))
    return [m.msg for m in read_bag(tmp_path / "out") if m.topic == "/perception/tracked_objects"]


def _live(tmp_path: Path, bag: Path, pipeline: str) -> list[TrackedObjects]:
    """Publish the bag's messages in its order; each image waits for its fused list (one frame per
    cycle, as lepton process runs them)."""
    fused: list[TrackedObjects] = []
    with (
        Graph("parity_test", spin=False) as g,
        g.perception(
            [default_params_file()],
            "/perception",
            log_path=tmp_path / "node.log",
            overrides={**SETTINGS, "io.pipeline": pipeline},
        ),
    ):
        node, executor = g.node, g.executor
        node.create_subscription(TrackedObjects, "/perception/tracked_objects", fused.append, RELIABLE)
        msgs = list(read_bag(bag))
        pubs = {m.topic: node.create_publisher(type(m.msg), m.topic, RELIABLE) for m in msgs}
        assert spin_until(executor, lambda: all(p.get_subscription_count() > 0 for p in pubs.values()), 60.0)
        spin_until(executor, lambda: False, 1.0)
        sent = 0
        for m in msgs:
            pubs[m.topic].publish(m.msg)
            if isinstance(m.msg, Odometry | CameraInfo):
                spin_until(executor, lambda: False, 0.05)  # delivered before the image that needs it
                continue
            assert isinstance(m.msg, Image)
            sent += 1
            assert spin_until(executor, lambda n=sent: len(fused) >= n, 30.0), (
                f"no fused list for image {sent}"
            )
    return fused


@pytest.mark.parametrize("pipeline", ["auto", "always"])
def test_live_node_and_lepton_process_give_the_same_fused_objects(
    tmp_path: Path, pets_frames: list[np.ndarray], pipeline: str
) -> None:
    # "always": the node's worker detects and its output thread tracks, fuses and publishes.
    bag = tmp_path / "in"
    _write_bag(bag, pets_frames, "/localization/kinematic_state")
    offline, live = _offline(tmp_path, bag), _live(tmp_path, bag, pipeline)
    assert len(offline) == len(live) == FRAMES * len(CAMS)
    assert sum(len(m.objects) for m in offline) > 0
    for off, on in zip(offline, live):
        assert (on.header.stamp, on.header.frame_id) == (off.header.stamp, off.header.frame_id)
        assert on.header.frame_id == "odom"
        a = {bytes(o.object_id.uuid): o.kinematics.pose_with_covariance.pose.position for o in off.objects}
        b = {bytes(o.object_id.uuid): o.kinematics.pose_with_covariance.pose.position for o in on.objects}
        assert a.keys() == b.keys()
        for uid, p in a.items():
            q = b[uid]
            assert (q.x, q.y) == pytest.approx((p.x, p.y), abs=1e-3)
