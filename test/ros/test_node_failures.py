"""The node's failure behaviour: a clear start-up error for a bad model, a warning for incompatible QoS."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from lepton_perception.ros.conversions import image_to_msg, ns_to_time
from lepton_perception.ros.node_process import NodeProcess
from lepton_perception.ros.params import default_params_file

from .graph_utils import spin_until

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)


def test_missing_model_fails_at_start_up_naming_the_file(tmp_path: Path) -> None:
    log = tmp_path / "node.log"
    with NodeProcess(
        default_params_file(),
        "/bad",
        overrides={"detector.model_path": "/nonexistent/yolox.onnx"},
        log_path=log,
    ) as proc:
        assert proc.proc is not None
        proc.proc.wait(timeout=60)
        code = proc.proc.returncode
    assert code == 2
    assert "model file /nonexistent/yolox.onnx does not exist" in log.read_text()


def test_out_of_range_parameter_fails_at_start_up(tmp_path: Path) -> None:
    log = tmp_path / "node.log"
    with NodeProcess(
        default_params_file(), "/bad2", overrides={"detector.nms_iou": "3.0"}, log_path=log
    ) as proc:
        assert proc.proc is not None
        proc.proc.wait(timeout=60)
    assert proc.proc.returncode != 0
    assert "nms_iou" in log.read_text()


def test_incompatible_qos_is_warned_and_counted(tmp_path: Path, pets_frames: list[np.ndarray]) -> None:
    """A best-effort camera driver and a node asked to subscribe reliably: DDS never matches them."""
    log = tmp_path / "node.log"
    rclpy.init()
    node = rclpy.create_node("qos_test")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    diags: list[DiagnosticArray] = []
    node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    pub = node.create_publisher(Image, "/qoscam/image_raw", qos_profile_sensor_data)  # best effort
    overrides = {"io.image_reliability": "reliable", "io.cameras": '["/qoscam"]'}
    try:
        with NodeProcess(default_params_file(), "/qos", overrides=overrides, log_path=log):

            def counted() -> bool:
                pub.publish(image_to_msg(pets_frames[0], Header(stamp=ns_to_time(time.time_ns()))))
                for d in diags:
                    for st in d.status:
                        vals = {kv.key: kv.value for kv in st.values}
                        if st.hardware_id == "qoscam" and int(vals.get("qos_incompatible_events", 0)) > 0:
                            return True
                return False

            assert spin_until(executor, counted, 60.0), log.read_text()[-2000:]
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    text = log.read_text()
    assert "incompatible QoS on /qoscam/image_raw" in text
