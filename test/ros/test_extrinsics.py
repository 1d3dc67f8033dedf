"""Camera extrinsics from /tf_static messages: the composed mount where the tree has the camera's
frame, the parameters where it does not, malformed transforms counted and left out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from lepton_perception.core.camera import CameraPose
from lepton_perception.ros.extrinsics import CameraExtrinsics

from .graph_utils import stamped_transform

pytestmark = pytest.mark.ros  # tf2_msgs from the interface overlay (scripts/build_msgs.sh)

PARAMS = CameraPose(x_m=0.0, z_m=1.65)


def camera_chain(pitch: float) -> TFMessage:
    """base_link -> front_link (2, 0, 5 m, looking down by ``pitch``) -> front_optical."""
    return TFMessage(
        transforms=[
            stamped_transform(
                "base_link",
                "front_link",
                (2.0, 0.0, 5.0),
                (0.0, math.sin(pitch / 2), 0.0, math.cos(pitch / 2)),
            ),
            stamped_transform("front_link", "front_optical", (0.0, 0.0, 0.0), (-0.5, 0.5, -0.5, 0.5)),
        ]
    )


def test_tf_static_mount_is_used_for_its_frame_parameters_for_others() -> None:
    ext = CameraExtrinsics("base_link")
    assert ext.available
    assert ext.pose("front_optical", PARAMS) == (PARAMS, "parameters")  # nothing published yet
    ext.add_tf_static(camera_chain(0.35))
    pose, source = ext.pose("front_optical", PARAMS)
    assert source == "tf_static"
    assert (pose.x_m, pose.y_m, pose.z_m) == pytest.approx((2.0, 0.0, 5.0))
    assert (pose.roll_rad, pose.pitch_rad, pose.yaw_rad) == pytest.approx((0.0, 0.35, 0.0), abs=1e-9)
    np.testing.assert_allclose(
        pose.rotation(), CameraPose(2.0, 0.0, 5.0, pitch_rad=0.35).rotation(), atol=1e-9
    )
    assert ext.pose("rear_optical", PARAMS) == (PARAMS, "parameters")


def test_malformed_transforms_are_counted_and_left_out() -> None:
    ext = CameraExtrinsics("base_link")
    bad = [
        stamped_transform(
            "base_link", "front_optical", (0.0, 0.0, 1.0), (0.0, 0.0, 0.0, 0.0)
        ),  # zero quaternion
        stamped_transform("", "front_optical", (0.0, 0.0, 1.0), (0.0, 0.0, 0.0, 1.0)),  # no parent
        stamped_transform("base_link", "front_optical", (math.nan, 0.0, 1.0), (0.0, 0.0, 0.0, 1.0)),
    ]
    ext.add_tf_static(TFMessage(transforms=bad))
    assert ext.rejected == 3
    assert ext.pose("front_optical", PARAMS) == (PARAMS, "parameters")


def test_runner_switches_to_the_tf_mount_and_restarts_that_cameras_tracks(pets_frames) -> None:
    """Frames before /tf_static use the parameters; once the mount is there the camera uses it, its
    tracks restart (no track mixes two mounts) and its diagnostics say tf_static."""
    from lepton_perception.core.camera import CameraIntrinsics
    from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
    from lepton_perception.ros.params import config_from_values
    from lepton_perception.ros.runner import PerceptionRunner

    values = {
        "io.cameras": ["/front"], "io.publish_annotated_image": False, "detector.backend": "onnxruntime",
        "camera_poses.front.z_m": 5.0, "camera_poses.front.pitch_rad": 0.35,
        "camera_poses.front.yaw_rad": 3.1,  # looking backwards
    }  # fmt: skip
    runner = PerceptionRunner(config_from_values(values))
    h, w = pets_frames[0].shape[:2]
    runner.set_camera_info(
        "front", intrinsics_to_camera_info(CameraIntrinsics.from_fov(w, h, 60.0), Header())
    )

    def step(k: int) -> list:
        header = Header(
            stamp=ns_to_time(1_700_000_000_000_000_000 + k * 100_000_000), frame_id="front_optical"
        )
        out = runner.process([("front", image_to_msg(pets_frames[k], header))])
        return [t for t in out[0].result.tracks if t.ground is not None]

    for k in range(3):
        before = step(k)
    assert runner.cameras["front"].extrinsics_source == "parameters"
    assert before and all(t.ground.position_m[0] < 0 for t in before)  # looking backwards
    runner.add_tf_static(camera_chain(0.35))
    after = [step(k) for k in (3, 4, 5)][-1]  # ground is published from a track's third match
    assert runner.cameras["front"].extrinsics_source == "tf_static"
    assert after and all(t.age_s <= 0.2 + 1e-9 for t in after)  # a fresh tracker: born at the switch
    assert all(t.ground.position_m[0] > 2.0 for t in after)
    status = next(s for s in runner.health(worker_alive=True) if s.subject == "camera front")
    assert ("extrinsics", "tf_static") in status.values
