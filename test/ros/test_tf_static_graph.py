"""The node in its own process with a latched /tf_static mount of its camera: it reports tf_static as the
camera's extrinsics source, and the fused objects lie where that mount (not the parameters) puts them."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from autoware_perception_msgs.msg import TrackedObjects
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from vision_msgs.msg import Detection2DArray

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
from lepton_perception.ros.graph import Graph
from lepton_perception.ros.params import default_params_file

from .graph_utils import camera_publishers, spin_until, stamped_transform

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)

NS = "/tftest"
T0_NS = 1_700_000_000_000_000_000
DT_NS = 100_000_000
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
PITCH = 0.35
MOUNT = CameraPose(x_m=2.0, y_m=0.5, z_m=5.0, pitch_rad=PITCH)  # what /tf_static says
# The parameters say the camera looks backwards: objects would be behind the vehicle.
PARAM_OVERRIDES = {
    "camera_poses.front.z_m": "5.0",
    "camera_poses.front.pitch_rad": "0.35",
    "camera_poses.front.yaw_rad": "3.1",
}


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, SingleThreadedExecutor]]:
    log = tmp_path_factory.mktemp("tf") / "node.log"
    # No online horizon estimate: the positions then follow from the mount alone (flat road).
    overrides = {
        "io.cameras": '["/front"]', "io.image_reliability": "reliable", "world.track_horizon": "false",
        **PARAM_OVERRIDES,
    }  # fmt: skip
    with (
        Graph("tf_static_graph_test", spin=False) as g,
        g.perception([default_params_file()], NS, log_path=log, overrides=overrides) as proc,
    ):
        yield g.node, g.executor
        assert proc.alive(), log.read_text()[-3000:]
        assert "camera front: extrinsics from /tf_static (base_link -> front_optical)" in log.read_text()


def _mount_msg() -> TFMessage:
    """robot_state_publisher's chain: base_link -> front_link -> front_optical (REP 103 optical)."""
    body_q = (0.0, math.sin(PITCH / 2), 0.0, math.cos(PITCH / 2))
    return TFMessage(
        transforms=[
            stamped_transform("base_link", "front_link", (MOUNT.x_m, MOUNT.y_m, MOUNT.z_m), body_q),
            stamped_transform("front_link", "front_optical", (0.0, 0.0, 0.0), (-0.5, 0.5, -0.5, 0.5)),
        ]
    )


def _camera_diag(got: list[DiagnosticArray]) -> dict[str, str]:
    values = [
        {kv.key: kv.value for kv in st.values}
        for arr in got
        for st in arr.status
        if st.name.endswith("front")
    ]
    return values[-1] if values else {}


def test_tf_static_mount_places_the_objects(graph, pets_frames: list[np.ndarray]) -> None:
    node, executor = graph
    tf_pub = node.create_publisher(TFMessage, "/tf_static", LATCHED)
    tf_pub.publish(_mount_msg())  # latched: published before the node has subscribed
    got: dict[str, list] = {"tracked": [], "dets": [], "diag": []}
    node.create_subscription(TrackedObjects, f"{NS}/tracked_objects", got["tracked"].append, RELIABLE)
    node.create_subscription(Detection2DArray, f"{NS}/front/detections", got["dets"].append, RELIABLE)
    node.create_subscription(DiagnosticArray, "/diagnostics", got["diag"].append, 10)
    pub, info = camera_publishers(node, executor, "/front", RELIABLE)
    assert spin_until(executor, lambda: tf_pub.get_subscription_count() > 0, 30.0), (
        "no /tf_static subscription"
    )
    spin_until(executor, lambda: False, 1.0)
    intr = CameraIntrinsics.from_fov(768, 576, 60.0)
    for i, frame in enumerate(pets_frames[:6]):
        header = Header(stamp=ns_to_time(T0_NS + i * DT_NS), frame_id="front_optical")
        info.publish(intrinsics_to_camera_info(intr, header))
        pub.publish(image_to_msg(frame, header))
        assert spin_until(executor, lambda n=i: len(got["dets"]) > n, 30.0), f"no answer to frame {i}"
    dets = got["dets"][-1]
    assert spin_until(
        executor, lambda: any(m.header.stamp == dets.header.stamp for m in got["tracked"]), 15.0
    )
    fused = next(m for m in reversed(got["tracked"]) if m.header.stamp == dets.header.stamp)
    assert fused.header.frame_id == "base_link" and len(fused.objects) >= 3
    # Where the mount puts each box's foot point; the parameters' (looking backwards) would be behind.
    feet = np.array(
        [[d.bbox.center.position.x, d.bbox.center.position.y + d.bbox.size_y / 2] for d in dets.detections]
    )
    ground, _, ok = GroundProjector(intr, MOUNT).to_ground(feet)
    ground = ground[ok]
    for obj in fused.objects:
        p = obj.kinematics.pose_with_covariance.pose.position
        assert p.x > MOUNT.x_m, (p.x, p.y)
        # Within the centre offset and filtering (a person's centre is ~0.3 m behind the box foot).
        tolerance_m = 1.0 + 0.05 * float(np.hypot(p.x, p.y))
        assert np.hypot(*(ground - (p.x, p.y)).T).min() < tolerance_m, ((p.x, p.y), ground)
    assert spin_until(executor, lambda: _camera_diag(got["diag"]).get("extrinsics") == "tf_static", 15.0), (
        _camera_diag(got["diag"])
    )
