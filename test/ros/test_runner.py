"""PerceptionRunner (messages -> pipeline -> messages, no graph): multi-camera batches, time, failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time, time_to_ns
from lepton_perception.ros.params import config_from_values
from lepton_perception.ros.runner import PerceptionRunner

T0 = 1_700_000_000_000_000_000
DT = 100_000_000


@pytest.fixture(scope="module")
def runner_factory():
    def make(**values: object) -> PerceptionRunner:
        base = {
            "io.cameras": ["/front", "/rear"],
            "camera_poses.rear.yaw_rad": math.pi,
            "io.publish_annotated_image": False,
            "detector.backend": "onnxruntime",
        }
        base.update(values)
        return PerceptionRunner(config_from_values(base))

    return make


def _msg(frame: np.ndarray, k: int, frame_id: str = "cam") -> Image:
    return image_to_msg(frame, Header(stamp=ns_to_time(T0 + k * DT), frame_id=frame_id))


def _info(runner: PerceptionRunner, key: str, frame: np.ndarray) -> None:
    h, w = frame.shape[:2]
    intr = CameraIntrinsics.from_fov(w, h, 60.0)
    runner.set_camera_info(key, intrinsics_to_camera_info(intr, Header(frame_id="cam")))


def test_two_cameras_one_batch_positions_in_the_common_frame(runner_factory, pets_frames) -> None:
    runner = runner_factory(
        **{
            "camera_poses.front.pitch_rad": 0.35,
            "camera_poses.rear.pitch_rad": 0.35,
            "camera_poses.front.z_m": 5.0,
            "camera_poses.rear.z_m": 5.0,
        }
    )
    for key in ("front", "rear"):
        _info(runner, key, pets_frames[0])
    for k in range(6):
        outs = runner.process([("front", _msg(pets_frames[k], k)), ("rear", _msg(pets_frames[k], k))])
        assert [o.key for o in outs] == ["front", "rear"]
    front = outs[0].messages["tracked_objects"].objects
    rear = outs[1].messages["tracked_objects"].objects
    assert front and len(front) == len(rear)
    fx = sorted(
        (o.kinematics.pose_with_covariance.pose.position.x, o.kinematics.pose_with_covariance.pose.position.y)
        for o in front
    )
    rx = sorted(
        (
            -o.kinematics.pose_with_covariance.pose.position.x,
            -o.kinematics.pose_with_covariance.pose.position.y,
        )
        for o in rear
    )
    np.testing.assert_allclose(fx, rx, atol=1e-6)  # the rear camera sees the same scene turned by pi
    assert all(x > 0 for x, _ in fx)
    assert {bytes(o.object_id.uuid) for o in front}.isdisjoint({bytes(o.object_id.uuid) for o in rear})


def test_time_duplicates_jumps_and_bad_frames_are_counted(runner_factory, pets_frames) -> None:
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])
    for k in range(4):
        runner.process([("front", _msg(pets_frames[k], k))])
    (dup,) = runner.process([("front", _msg(pets_frames[3], 3))])
    assert dup.skipped == "duplicate_stamps" and dup.result is None
    bad = Image(
        header=Header(stamp=ns_to_time(T0 + 5 * DT)),
        height=2,
        width=2,
        encoding="32FC1",
        step=8,
        data=bytes(16),
    )
    (skipped,) = runner.process([("front", bad)])
    assert skipped.skipped == "decode_errors"
    (back,) = runner.process([("front", _msg(pets_frames[0], 0))])  # a looped bag
    assert back.result is not None
    assert all(t.hits == 1 for t in back.result.tracks)  # tracks were reset, not predicted backwards
    c = runner.cameras["front"].counters
    assert (
        c["frames_in"],
        c["processed"],
        c["duplicate_stamps"],
        c["decode_errors"],
        c["time_jumps_back"],
    ) == (7, 5, 1, 1, 1)


def test_without_camera_info_image_tracks_only(runner_factory, pets_frames) -> None:
    runner = runner_factory()
    for k in range(4):
        (out,) = runner.process([("front", _msg(pets_frames[k], k, "front_optical"))])
    assert out.messages["detections"].detections, "image-space tracks need no calibration"
    assert out.messages["detections"].header.frame_id == "front_optical"
    assert time_to_ns(out.messages["detections"].header.stamp) == T0 + 3 * DT
    assert out.messages["tracked_objects"].objects == []
    assert runner.cameras["front"].counters["no_camera_info"] == 4
