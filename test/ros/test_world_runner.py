"""Runner with odometry and two overlapping cameras (no graph): one fused list in the odometry frame."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geometry_msgs.msg import Quaternion
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.core.world.ego import EgoPose
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
from lepton_perception.ros.ego import FUSED_KEY, WorldState, odometry_pose
from lepton_perception.ros.params import config_from_values
from lepton_perception.ros.runner import PerceptionRunner

pytestmark = pytest.mark.ros  # the runner module imports the message packages

T0 = 1_700_000_000_000_000_000
DT = 100_000_000
POSE = {"camera_poses.{k}.pitch_rad": 0.35, "camera_poses.{k}.z_m": 5.0}


def _odometry(k: int, x: float, yaw: float) -> Odometry:
    msg = Odometry(header=Header(stamp=ns_to_time(T0 + k * DT), frame_id="odom"), child_frame_id="base_link")
    msg.pose.pose.position.x = x
    msg.pose.pose.orientation = Quaternion(z=math.sin(yaw / 2), w=math.cos(yaw / 2))
    return msg


def _image(frame: np.ndarray, k: int) -> Image:
    return image_to_msg(frame, Header(stamp=ns_to_time(T0 + k * DT), frame_id="cam"))


@pytest.fixture(scope="module")
def runner(pets_frames: list[np.ndarray]) -> PerceptionRunner:
    values: dict[str, object] = {
        "io.cameras": ["/left", "/right"],
        "io.publish_annotated_image": False,
        "detector.backend": "onnxruntime",
    }
    for key in ("left", "right"):  # the same mount: fully overlapping fields of view
        values.update({name.format(k=key): v for name, v in POSE.items()})
    r = PerceptionRunner(config_from_values(values))
    h, w = pets_frames[0].shape[:2]
    for key in ("left", "right"):
        r.set_camera_info(key, intrinsics_to_camera_info(CameraIntrinsics.from_fov(w, h, 60.0), Header()))
    return r


def test_odometry_pose_yaw_from_quaternion() -> None:
    stamp, pose = odometry_pose(_odometry(3, 12.5, 2.0))
    assert stamp == pytest.approx((T0 + 3 * DT) * 1e-9)
    assert (pose.x_m, pose.y_m, pose.yaw_rad) == pytest.approx((12.5, 0.0, 2.0))


def test_image_pose_for_drawing_paths() -> None:
    """Paths are drawn through base_link's pose at the image stamp: the identity before odometry,
    the interpolated pose with it, none where no pose covers the stamp."""
    world = WorldState()
    assert world.image_pose(5.0) == EgoPose(0.0, 0.0, 0.0)
    world.add_odometry(_odometry(0, 10.0, 0.0))
    world.add_odometry(_odometry(2, 12.0, 0.2))
    world.begin_batch()
    pose = world.image_pose((T0 + DT) * 1e-9)
    assert pose is not None
    assert (pose.x_m, pose.y_m, pose.yaw_rad) == pytest.approx((11.0, 0.0, 0.1), abs=1e-5)
    assert world.image_pose((T0 + 50 * DT) * 1e-9) is None


def test_two_overlapping_cameras_one_object_list_in_odom(runner, pets_frames) -> None:
    assert runner.world.frame_id == "base_link" and "no odometry" in runner.world.status()
    yaw = math.pi / 2  # the ego faces +y of odom and drives along it at 10 m/s
    for k in range(8):
        runner.add_odometry(_odometry(k, 0.0, yaw))
    for k in range(6):
        runner.add_odometry(_odometry(k + 8, 0.0, yaw))
        outs = runner.process([("left", _image(pets_frames[k], k)), ("right", _image(pets_frames[k], k))])
        fused = runner.fuse(outs)
    assert fused is not None and fused.key == FUSED_KEY
    assert outs[0].messages is not None and fused.messages is not None
    left = outs[0].messages.tracked_objects
    tracked, predicted = fused.messages.fused_tracked_objects, fused.messages.objects
    assert left is not None and tracked is not None and predicted is not None
    assert left.header.frame_id == tracked.header.frame_id == predicted.header.frame_id == "odom"
    n_cam = len(left.objects)
    assert n_cam >= 3
    # The same people in both cameras: one fused object each, not two.
    assert len(tracked.objects) == n_cam == len(predicted.objects)
    # base_link x (ahead) is odom y: every object is ahead of the ego in odom y.
    assert all(o.kinematics.pose_with_covariance.pose.position.y > 0 for o in tracked.objects)
    assert len({bytes(o.object_id.uuid) for o in tracked.objects}) == n_cam
    assert "odometry in odom" in runner.world.status()
    world = runner.diagnostics().world
    assert world.frame_id == "odom" and world.counters["odometry"] == 14
    assert [t.name(fused.key) for t, _ in fused.messages.items()] == ["markers", "objects", "tracked_objects"]
    assert fused.messages.markers is not None
    markers = fused.messages.markers.markers
    assert markers and {m.header.frame_id for m in markers} == {"odom"}
    assert all(m.ns.startswith(f"lepton/{FUSED_KEY}/") for m in markers)


def test_a_looped_bag_restarts_poses_and_fusion(runner, pets_frames) -> None:
    """Time going back (a looped bag): the pose buffer and the fused list start again at the new
    stamps instead of rejecting every pose and holding the fused stamp in the future."""
    yaw = math.pi / 2
    for k in range(30, 36):
        runner.add_odometry(_odometry(k, 0.0, yaw))
        outs = runner.process(
            [("left", _image(pets_frames[k % 6], k)), ("right", _image(pets_frames[k % 6], k))]
        )
        runner.fuse(outs)
    for k in range(6):  # 3 s back
        runner.add_odometry(_odometry(k, 0.0, yaw))
        outs = runner.process([("left", _image(pets_frames[k], k)), ("right", _image(pets_frames[k], k))])
        fused = runner.fuse(outs)
    assert fused is not None and fused.messages is not None and fused.messages.objects is not None
    assert fused.messages.objects.header.stamp == outs[0].messages.detections.header.stamp
    world = runner.diagnostics().world
    assert world.counters["odometry_time_jumps_back"] == 1
    assert world.counters.get("no_pose", 0) == 0
    assert fused.messages.objects.objects  # tracking goes on with poses after the loop
