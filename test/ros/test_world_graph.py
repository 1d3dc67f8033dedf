"""The node in its own process with nav_msgs/Odometry and two overlapping cameras: one fused object list
on ``objects`` / ``tracked_objects`` in the odometry frame, and diagnostics that say so."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from autoware_perception_msgs.msg import PredictedObjects, TrackedObjects
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Quaternion
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
from lepton_perception.ros.graph import Graph
from lepton_perception.ros.params import default_params_file

from .graph_utils import spin_until

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)

NS = "/worldtest"
T0_NS = 1_700_000_000_000_000_000
DT_NS = 100_000_000
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
CAMS = ("left", "right")


@pytest.fixture(scope="module", params=["auto", "always"])
def graph(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Node, SingleThreadedExecutor]]:
    """The node as configured by default, and with detection overlapping the output thread (what
    ``auto`` chooses with a GPU detector)."""
    log = tmp_path_factory.mktemp("world") / "node.log"
    overrides = {
        "io.cameras": '["/left", "/right"]',
        "io.image_reliability": "reliable",
        "io.pipeline": request.param,
    }
    for cam in CAMS:  # the same mount: fully overlapping fields of view
        overrides |= {f"camera_poses.{cam}.z_m": "5.0", f"camera_poses.{cam}.pitch_rad": "0.35"}
    with (
        Graph("world_graph_test", spin=False) as g,
        g.perception([default_params_file()], NS, log_path=log, overrides=overrides) as proc,
    ):
        yield g.node, g.executor
        assert proc.alive(), log.read_text()[-3000:]
    if request.param == "always":
        assert "detector and output threads overlap" in log.read_text()


def _odometry(stamp_ns: int, y: float) -> Odometry:
    msg = Odometry(header=Header(stamp=ns_to_time(stamp_ns), frame_id="odom"), child_frame_id="base_link")
    msg.pose.pose.position.y = y
    yaw = math.pi / 2  # driving along odom +y
    msg.pose.pose.orientation = Quaternion(z=math.sin(yaw / 2), w=math.cos(yaw / 2))
    return msg


def test_odometry_and_two_cameras_give_one_list_in_odom(graph, pets_frames: list[np.ndarray]) -> None:
    node, executor = graph
    got: dict[str, list] = {"objects": [], "tracked": [], "cam": [], "diag": []}
    node.create_subscription(PredictedObjects, f"{NS}/objects", got["objects"].append, RELIABLE)
    node.create_subscription(TrackedObjects, f"{NS}/tracked_objects", got["tracked"].append, RELIABLE)
    node.create_subscription(TrackedObjects, f"{NS}/left/tracked_objects", got["cam"].append, RELIABLE)
    node.create_subscription(DiagnosticArray, "/diagnostics", got["diag"].append, 10)
    odom_pub = node.create_publisher(Odometry, "/localization/kinematic_state", RELIABLE)
    pubs = {c: node.create_publisher(Image, f"/{c}/image_raw", RELIABLE) for c in CAMS}
    infos = {c: node.create_publisher(CameraInfo, f"/{c}/camera_info", RELIABLE) for c in CAMS}

    def ready() -> bool:
        subscribed = [p.get_subscription_count() > 0 for p in (odom_pub, *pubs.values())]
        return all(subscribed)

    assert spin_until(executor, ready, 60.0), "node never subscribed"
    assert spin_until(executor, lambda: node.count_publishers(f"{NS}/objects") > 0, 30.0)
    spin_until(executor, lambda: False, 1.0)
    intr = CameraIntrinsics.from_fov(768, 576, 60.0)
    for k in range(10):  # odometry ahead of the images (a 10 m/s ego)
        odom_pub.publish(_odometry(T0_NS + k * DT_NS, 1.0 * k))
    for i, frame in enumerate(pets_frames[:8]):
        odom_pub.publish(_odometry(T0_NS + (i + 10) * DT_NS, 1.0 * (i + 10)))
        header = Header(stamp=ns_to_time(T0_NS + i * DT_NS), frame_id="cam_optical")
        for c in CAMS:
            infos[c].publish(intrinsics_to_camera_info(intr, header))
            pubs[c].publish(image_to_msg(frame, header))
        assert spin_until(executor, lambda n=i: len(got["cam"]) > n, 30.0), f"no answer to frame {i}"
    last_cam = got["cam"][-1]

    def answered() -> bool:  # both fused lists (each camera's batch may publish its own at one stamp)
        stamp = last_cam.header.stamp
        return all(any(m.header.stamp == stamp for m in got[k]) for k in ("tracked", "objects"))

    assert spin_until(executor, answered, 15.0), "no fused list for the last frame"
    fused = next(m for m in reversed(got["tracked"]) if m.header.stamp == last_cam.header.stamp)
    assert {m.header.frame_id for m in got["tracked"] + got["objects"] + got["cam"]} == {"odom"}
    assert len(last_cam.objects) >= 3
    # Both cameras see the same people: the fused list has each once.
    assert len(fused.objects) == len(last_cam.objects)
    # base_link x (ahead) is odom +y and the ego is at y = 0.7 m: every person is ahead in odom y.
    assert all(o.kinematics.pose_with_covariance.pose.position.y > 0.7 for o in fused.objects)
    objs = next(m for m in reversed(got["objects"]) if m.header.stamp == last_cam.header.stamp)
    assert {bytes(o.object_id.uuid) for o in objs.objects} == {bytes(o.object_id.uuid) for o in fused.objects}

    def world_diag() -> dict[str, str]:
        values = [
            {kv.key: kv.value for kv in st.values}
            for arr in got["diag"]
            for st in arr.status
            if st.name.endswith(": node")
        ]
        return values[-1] if values else {}

    assert spin_until(executor, lambda: world_diag().get("world_frame") == "odom", 15.0), world_diag()
    assert "odometry in odom" in world_diag()["world"]
    assert int(world_diag()["world_odometry_total"]) >= 10
