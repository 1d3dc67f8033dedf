"""The node in its own process (entry point, params file, namespace as the launch file starts it),
fed real Image + CameraInfo messages; a separate subscriber checks what comes out."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from autoware_perception_msgs.msg import ObjectClassification, PredictedObjects, TrackedObjects
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue, SetParametersResult
from rcl_interfaces.srv import ListParameters, SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray
from visualization_msgs.msg import MarkerArray

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time, time_to_ns
from lepton_perception.ros.graph import Graph
from lepton_perception.ros.node_process import NodeProcess
from lepton_perception.ros.params import default_params_file, load_yaml_values

from .graph_utils import camera_publishers, spin_until

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)

NS = "/perception"
T0_NS = 1_700_000_000_000_000_000
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture(scope="module", params=["always", "never"], ids=["pipelined", "one_thread"])
def graph(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Node, SingleThreadedExecutor, NodeProcess]]:
    """The node as launched, ``io.pipeline`` always (detector and output threads) and never (one thread)."""
    tmp = tmp_path_factory.mktemp("node")
    log = tmp / "node.log"
    pipeline = tmp / "pipeline.yaml"
    pipeline.write_text(f"/**:\n  ros__parameters:\n    io:\n      pipeline: {request.param}\n")
    with (
        Graph("graph_test", spin=False) as g,
        g.perception([default_params_file(), pipeline], NS, log_path=log) as proc,
    ):
        yield g.node, g.executor, proc
        assert proc.alive(), log.read_text()[-3000:]


def test_outputs_carry_the_source_stamp_and_frame(graph, pets_frames: list[np.ndarray]) -> None:
    node, executor, _ = graph
    got: dict[str, list] = {"image": [], "markers": [], "diag": [], "det": [], "tracked": [], "predicted": []}
    node.create_subscription(Detection2DArray, f"{NS}/camera/detections", got["det"].append, RELIABLE)
    node.create_subscription(TrackedObjects, f"{NS}/camera/tracked_objects", got["tracked"].append, RELIABLE)
    node.create_subscription(
        PredictedObjects, f"{NS}/camera/predicted_objects", got["predicted"].append, RELIABLE
    )
    node.create_subscription(Image, f"{NS}/camera/annotated_image", got["image"].append, RELIABLE)
    node.create_subscription(MarkerArray, f"{NS}/markers", got["markers"].append, RELIABLE)
    node.create_subscription(DiagnosticArray, "/diagnostics", got["diag"].append, 10)
    img_pub, info_pub = camera_publishers(node, executor, "/camera", RELIABLE)
    assert spin_until(executor, lambda: node.count_publishers(f"{NS}/camera/annotated_image") > 0, 30.0)
    spin_until(executor, lambda: False, 1.0)  # both directions of discovery settle
    intr = CameraIntrinsics.from_fov(768, 576, 60.0)
    sent = []
    for i, frame in enumerate(pets_frames[:8]):
        header = Header(stamp=ns_to_time(T0_NS + i * 142_857_143 + 17), frame_id="cam_optical")
        info_pub.publish(intrinsics_to_camera_info(intr, header))
        img_pub.publish(image_to_msg(frame, header))
        sent.append(time_to_ns(header.stamp))
        # One frame at a time: the node keeps only the newest frame, by design.
        assert spin_until(executor, lambda n=i: len(got["image"]) > n, 30.0), f"no answer to frame {i}"
    stamps = [time_to_ns(m.header.stamp) for m in got["image"]]
    assert stamps == sent  # exact stamps, nanoseconds included
    assert {m.header.frame_id for m in got["image"]} == {"cam_optical"}
    assert spin_until(executor, lambda: len(got["markers"]) >= 8, 10.0)
    boxes = [mk for arr in got["markers"] for mk in arr.markers if mk.ns.endswith("/box")]
    assert boxes, "people walking in PETS09 must give confirmed tracks with ground positions"
    assert {mk.header.frame_id for mk in boxes} == {"base_link"}
    assert {time_to_ns(mk.header.stamp) for mk in boxes} <= set(sent)
    for name, frame_id in (("det", "cam_optical"), ("tracked", "base_link"), ("predicted", "base_link")):
        assert [time_to_ns(m.header.stamp) for m in got[name]] == sent, name
        assert {m.header.frame_id for m in got[name]} == {frame_id}, name
    # Image-space tracks: ids are track ids, boxes inside the image, class names as hypotheses.
    last_det = got["det"][-1].detections
    assert last_det and all(d.id.isdigit() for d in last_det)
    assert all(
        0 <= d.bbox.center.position.x <= 768 and 0 <= d.bbox.center.position.y <= 576 for d in last_det
    )
    assert {d.results[0].hypothesis.class_id for d in last_det} <= {
        "person",
        "car",
        "bicycle",
        "truck",
        "bus",
        "motorcycle",
    }
    # Ground-plane tracks: people in front of the camera, with a covariance, classified pedestrians.
    objs = got["tracked"][-1].objects
    assert objs, "confirmed people expected after 8 frames"
    peds = [o for o in objs if o.classification[0].label == ObjectClassification.PEDESTRIAN]
    assert peds
    for o in peds:
        p = o.kinematics.pose_with_covariance
        assert 0.0 < p.pose.position.x < 80.0  # in front of the camera, within range
        assert p.covariance[0] > 0 and p.covariance[7] > 0
        assert len(bytes(o.object_id.uuid)) == 16
    pred_ids = {bytes(o.object_id.uuid) for o in got["predicted"][-1].objects}
    assert pred_ids == {bytes(o.object_id.uuid) for o in objs}
    # Every object gets a most-likely path: 12 poses 0.4 s apart, starting near the object, ahead of it.
    for o in got["predicted"][-1].objects:
        (path,) = o.kinematics.predicted_paths
        assert len(path.path) == 12 and path.confidence == pytest.approx(1.0)
        assert path.time_step.sec == 0 and path.time_step.nanosec == pytest.approx(400_000_000, abs=1000)
        start = o.kinematics.initial_pose_with_covariance.pose.position
        first = path.path[0].position
        assert math.hypot(first.x - start.x, first.y - start.y) < 3.0  # 0.4 s at walking/driving speed

    # An undecodable frame is skipped and counted, and the node keeps working.
    bad = Image(
        header=Header(stamp=ns_to_time(T0_NS + 9 * 142_857_143), frame_id="cam_optical"),
        height=4,
        width=4,
        encoding="32FC1",
        step=16,
        data=bytes(64),
    )
    img_pub.publish(bad)
    good_header = Header(stamp=ns_to_time(T0_NS + 10 * 142_857_143), frame_id="cam_optical")
    img_pub.publish(image_to_msg(pets_frames[9], good_header))  # may replace `bad` in the slot: fine
    assert spin_until(
        executor, lambda: time_to_ns(got["image"][-1].header.stamp) == time_to_ns(good_header.stamp), 30.0
    )

    def counters() -> dict[str, str]:
        if not got["diag"]:
            return {}
        cams = [st for st in got["diag"][-1].status if st.hardware_id == "camera"]
        return {kv.key: kv.value for kv in cams[0].values} if cams else {}

    assert spin_until(executor, lambda: int(counters().get("processed_total", 0)) >= 9, 10.0), counters()
    c = counters()
    assert int(c["frames_in_total"]) == int(c["processed_total"]) + int(
        c.get("decode_errors_total", 0)
    ) + int(c.get("duplicate_stamps_total", 0))
    assert c["intrinsics"] == "camera_info"
    assert float(c["input_hz"]) >= 0.0 and float(c["processed_hz"]) >= 0.0
    assert float(c.get("inference_ms_p50", c.get("detect_ms_p50", 0))) > 0 and float(c["cycle_ms_p50"]) > 0


def test_declared_parameters_match_the_yaml(graph) -> None:
    node, executor, _ = graph
    client = node.create_client(ListParameters, f"{NS}/lepton_perception/list_parameters")
    assert client.wait_for_service(timeout_sec=30.0)
    future = client.call_async(ListParameters.Request(depth=0))
    assert spin_until(executor, future.done, 10.0)
    declared = set(future.result().result.names) - {"use_sim_time", "start_type_description_service"}
    assert declared == set(load_yaml_values(default_params_file()))


def test_live_parameters_change_and_others_are_refused(graph) -> None:
    node, executor, _ = graph
    client = node.create_client(SetParameters, f"{NS}/lepton_perception/set_parameters")
    assert client.wait_for_service(timeout_sec=30.0)

    def set_one(name: str, value: ParameterValue) -> SetParametersResult:
        future = client.call_async(SetParameters.Request(parameters=[Parameter(name=name, value=value)]))
        assert spin_until(executor, future.done, 10.0)
        return future.result().results[0]

    ok = set_one("tracker.max_coast_s", ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=1.5))
    assert ok.successful, ok.reason
    thr = set_one(
        "detector.score_threshold_pedestrian",
        ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.5),
    )
    assert thr.successful, thr.reason
    refused = set_one(
        "detector.backend", ParameterValue(type=ParameterType.PARAMETER_STRING, string_value="torch")
    )
    assert not refused.successful
    out_of_range = set_one(
        "tracker.max_coast_s", ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=-1.0)
    )
    assert not out_of_range.successful
    # The declared range (from the schema) refuses it before the node's own check: name, range, value.
    assert "tracker.max_coast_s" in out_of_range.reason and "-1.0" in out_of_range.reason
    assert "Min: 0.0, Max: 60.0" in out_of_range.reason
    nan = set_one(
        "tracker.accel_noise_hps2", ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=math.nan)
    )
    assert not nan.successful and "tracker.accel_noise_hps2" in nan.reason and "nan" in nan.reason
    wrong_type = set_one(
        "tracker.max_coast_s", ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=2)
    )
    assert not wrong_type.successful
