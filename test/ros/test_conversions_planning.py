"""Planning messages built for all tracks at once: each field against its definition, per track."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from autoware_perception_msgs.msg import TrackedObjectKinematics
from std_msgs.msg import Header

from lepton_perception.core.types import (
    Detections,
    FrameResult,
    GroundState,
    PredictedPath,
    Track,
    TrackState,
)
from lepton_perception.ros.conversions import STATIONARY_MPS, planning_msgs, track_uuid

pytestmark = pytest.mark.ros  # the message packages


def _track(tid: int, xy: tuple[float, float], v: tuple[float, float], state=TrackState.CONFIRMED) -> Track:
    cov = np.diag([0.5, 0.2, 0.3, 0.1]).astype(np.float64)
    cov[2, 3] = cov[3, 2] = 0.05  # velocity correlation: rotated into the object frame
    ground = GroundState(np.array(xy, float), np.array(v, float), cov)
    box = np.array([10, 20, 30, 80], np.float32)
    return Track(tid, 0, state, box, np.zeros(2, np.float32), 0.9, 5.0, 1.0, 5, 0.0, ground)


def _result(tracks: list[Track], paths: list[PredictedPath]) -> FrameResult:
    return FrameResult("cam", "front", 5.0, (640, 480), Detections.empty(), tracks, paths, {})


def test_each_track_gets_its_own_pose_twist_and_covariances() -> None:
    north = _track(1, (10.0, 2.0), (0.0, 2.0))  # moving +y: heading pi/2, 2 m/s forward
    still = _track(2, (5.0, -1.0), (0.1, 0.0))  # below STATIONARY_MPS: heading unknown
    tentative = _track(3, (1.0, 1.0), (1.0, 0.0), TrackState.TENTATIVE)  # not for planners
    path = PredictedPath(
        1, np.array([5.4, 5.8, 6.2]), np.array([[10, 3], [10, 4], [11, 5]], float), 0.8, "cv"
    )
    tracked, predicted = planning_msgs(_result([north, still, tentative], [path]), Header(), epoch_ns=7)
    assert [bytes(o.object_id.uuid) for o in tracked.objects] == [
        bytes(track_uuid("front", 7, 1).uuid),
        bytes(track_uuid("front", 7, 2).uuid),
    ]
    a, b = (o.kinematics for o in tracked.objects)
    assert (a.pose_with_covariance.pose.position.x, a.pose_with_covariance.pose.position.y) == (10.0, 2.0)
    assert a.pose_with_covariance.pose.orientation.z == pytest.approx(math.sin(math.pi / 4))
    assert a.twist_with_covariance.twist.linear.x == pytest.approx(2.0)
    assert a.twist_with_covariance.twist.linear.y == pytest.approx(0.0, abs=1e-12)
    tcov = np.array(a.twist_with_covariance.covariance).reshape(6, 6)
    np.testing.assert_allclose(tcov[:2, :2], [[0.1, -0.05], [-0.05, 0.3]], atol=1e-12)  # x along heading
    assert a.orientation_availability == TrackedObjectKinematics.AVAILABLE and not a.is_stationary
    assert a.pose_with_covariance.covariance[35] == pytest.approx(0.1)
    assert STATIONARY_MPS > 0.1 and b.is_stationary
    assert b.orientation_availability == TrackedObjectKinematics.UNAVAILABLE
    assert b.pose_with_covariance.covariance[35] == pytest.approx(math.pi**2)
    assert b.pose_with_covariance.pose.orientation.w == 1.0
    (p,) = predicted.objects[0].kinematics.predicted_paths
    assert predicted.objects[1].kinematics.predicted_paths == []  # listed, without a path
    yaws = [2 * math.atan2(q.orientation.z, q.orientation.w) for q in p.path]
    assert yaws == pytest.approx([math.pi / 2, math.atan2(2, 1), math.pi / 4])  # along the path
    assert p.time_step.nanosec == 400_000_000 and p.confidence == pytest.approx(0.8)


def test_no_planning_track_gives_empty_lists() -> None:
    tracked, predicted = planning_msgs(_result([], []), Header(), epoch_ns=0)
    assert tracked.objects == [] and predicted.objects == []


def test_fast_message_construction_equals_the_generated_constructors() -> None:
    """The planning and detection messages are written to the generated slots: the same messages as
    the constructors build, and they serialize."""
    import uuid

    from autoware_perception_msgs.msg import PredictedObjects, TrackedObjects
    from builtin_interfaces.msg import Duration
    from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
    from rclpy.serialization import deserialize_message, serialize_message
    from unique_identifier_msgs.msg import UUID
    from vision_msgs.msg import Detection2D, ObjectHypothesisWithPose

    from lepton_perception.ros import conversions as conv

    assert conv._pose(1.5, -2.0, 0.0, 0.25, 0.75) == Pose(
        position=Point(x=1.5, y=-2.0, z=0.0), orientation=Quaternion(x=0.0, y=0.0, z=0.25, w=0.75)
    )
    assert conv._vector(1.0, 2.0, 3.0) == Vector3(x=1.0, y=2.0, z=3.0)
    assert conv._duration(2.4) == Duration(sec=2, nanosec=400_000_000)
    want_uuid = uuid.uuid5(conv._UUID_NAMESPACE, "front/7/1").bytes
    assert track_uuid("front", 7, 1) == UUID(uuid=list(want_uuid))
    north = dataclasses.replace(_track(1, (10.0, 2.0), (0.0, 2.0)), score=0.75)  # exact as float32
    path = PredictedPath(1, np.array([5.4, 5.8]), np.array([[10, 3], [10, 4]], float), 0.5, "cv")
    tracked, predicted = planning_msgs(_result([north], [path]), Header(frame_id="odom"), epoch_ns=7)
    for msg, kind in ((tracked, TrackedObjects), (predicted, PredictedObjects)):
        assert deserialize_message(serialize_message(msg), kind) == msg
    (det,) = conv.detections_msg(_result([north], []), Header(frame_id="cam")).detections
    want = Detection2D(header=Header(frame_id="cam"), id="1")
    want.bbox.center.position.x, want.bbox.center.position.y = 20.0, 50.0
    want.bbox.size_x, want.bbox.size_y = 20.0, 60.0
    want.results = [ObjectHypothesisWithPose()]
    want.results[0].hypothesis.class_id, want.results[0].hypothesis.score = "person", 0.75
    assert det == want


def test_markers_equal_the_generated_constructors_and_serialize() -> None:
    """``markers_msg`` writes slots: the same markers as built with the constructors, every default
    field included (texture, mesh file, lifetime), and they survive a serialisation round trip."""
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import Point
    from rclpy.serialization import deserialize_message, serialize_message
    from std_msgs.msg import ColorRGBA
    from visualization_msgs.msg import Marker, MarkerArray

    from lepton_perception.ros.conversions import markers_msg

    north = _track(1, (10.0, 2.0), (0.0, 2.0))
    path = PredictedPath(1, np.array([5.4, 5.8]), np.array([[10, 3], [10, 4]], float), 0.5, "cv")
    stamp = Time(sec=5, nanosec=7)
    got, drawn = markers_msg(_result([north], [path]), stamp, "odom", {1, 4})
    assert drawn == {1}
    header = Header(stamp=stamp, frame_id="odom")
    box = Marker(header=header, ns="lepton/front/box", id=1, type=Marker.CUBE, action=Marker.ADD)
    box.pose.position.x, box.pose.position.y, box.pose.position.z = 10.0, 2.0, 1.7 / 2
    box.pose.orientation.z, box.pose.orientation.w = math.sin(math.pi / 4), math.cos(math.pi / 4)
    box.scale.x, box.scale.y, box.scale.z = 0.6, 0.6, 1.7
    box.color = got.markers[0].color  # the category palette is not under test here
    label = Marker(
        header=header, ns="lepton/front/label", id=1, type=Marker.TEXT_VIEW_FACING, text="person #1"
    )
    label.pose.position.x, label.pose.position.y, label.pose.position.z = 10.0, 2.0, 1.7 + 0.5
    label.scale.z = 0.5
    label.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    line = Marker(header=header, ns="lepton/front/path", id=1, type=Marker.LINE_STRIP)
    line.scale.x = 0.15
    line.color = got.markers[2].color
    line.points = [Point(x=10.0, y=3.0, z=0.05), Point(x=10.0, y=4.0, z=0.05)]
    deletes = [
        Marker(header=header, ns=f"lepton/front/{sub}", id=4, action=Marker.DELETE)
        for sub in ("box", "label", "path")
    ]
    assert got == MarkerArray(markers=[box, label, line, *deletes])
    assert deserialize_message(serialize_message(got), MarkerArray) == deserialize_message(
        serialize_message(MarkerArray(markers=[box, label, line, *deletes])), MarkerArray
    )
