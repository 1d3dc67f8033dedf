"""Live node without intrinsics: detections flow, planning lists are withheld, /diagnostics says ERROR
with the reason (none received, then N received and rejected); once a valid CameraInfo arrives the lists
flow and the level clears to OK."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from autoware_perception_msgs.msg import TrackedObjects
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
from lepton_perception.ros.graph import Graph
from lepton_perception.ros.params import default_params_file
from lepton_perception.ros.topics import DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, TOPIC_BY_FIELD

pytestmark = pytest.mark.ros
NS = "/withheld"
T0 = 1_700_000_000_000_000_000


def test_no_intrinsics_withholds_planning_lists_and_says_error(
    tmp_path: Path, pets_frames: list[np.ndarray]
) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(  # rate and latency rules relaxed: a loaded CI machine must not mask the level
        "/**:\n  ros__parameters:\n    io:\n      camera_info_wait_s: 0.0\n      diagnostics_period_s: 0.5\n"
        "    health:\n      window_s: 3.0\n      input_timeout_s: 3.0\n      min_processed_warn_hz: 0.0\n"
        "      min_processed_error_hz: 0.0\n      max_latency_warn_s: 30.0\n      max_latency_error_s: 60.0\n"
    )
    got: dict[str, list] = {"det": [], "tracked": [], "diag": []}
    with Graph("withheld_test", spin=False) as g:
        for field, key in (("detections", "det"), ("tracked_objects", "tracked")):
            t = TOPIC_BY_FIELD[field]
            g.node.create_subscription(t.msg_type, f"{NS}/{t.name('camera')}", got[key].append, t.qos)
        g.node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, got["diag"].append, DIAGNOSTICS_QOS)
        img = g.node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
        info = g.node.create_publisher(CameraInfo, "/camera/camera_info", qos_profile_sensor_data)
        k = 0

        def feed(with_info: bool, valid: bool = True) -> None:
            nonlocal k
            header = Header(stamp=ns_to_time(T0 + k * 100_000_000), frame_id="cam_optical")
            if with_info and valid:
                info.publish(intrinsics_to_camera_info(CameraIntrinsics.from_fov(768, 576, 60.0), header))
            elif with_info:
                info.publish(CameraInfo(header=header))  # zero width/height: an uncalibrated driver
            img.publish(image_to_msg(pets_frames[k % len(pets_frames)], header))
            k += 1
            g.executor.spin_once(timeout_sec=0.2)

        def last_status() -> DiagnosticStatus | None:
            mine = [s for d in got["diag"] for s in d.status if s.hardware_id == "camera"]
            return mine[-1] if mine else None

        with g.perception([default_params_file(), params], NS, log_path=tmp_path / "node.log") as proc:
            g.wait(lambda: img.get_subscription_count() > 0, 60.0, proc)
            for _ in range(100):
                feed(with_info=False)
                st = last_status()
                values = {kv.key: kv.value for kv in st.values} if st else {}
                withheld = values.get("planning_withheld_total", "0")
                if (
                    len(got["det"]) >= 3
                    and st is not None
                    and st.level == DiagnosticStatus.ERROR
                    and int(withheld) >= 3
                ):
                    break
            assert len(got["det"]) >= 3, "image-space detections must still flow"
            assert isinstance(got["det"][0], Detection2DArray)
            assert got["tracked"] == [], "no TrackedObjects may claim an empty road without intrinsics"
            st = last_status()
            assert st is not None and st.level == DiagnosticStatus.ERROR
            assert st.message == "no CameraInfo received: tracked/predicted objects withheld"
            values = {kv.key: kv.value for kv in st.values}
            assert int(values["planning_withheld_total"]) >= 3 and values["intrinsics"] == "none"
            for _ in range(100):  # an uncalibrated driver: CameraInfo arrives and is rejected
                feed(with_info=True, valid=False)
                st = last_status()
                if st is not None and st.message.startswith("received"):
                    break
            assert st is not None and st.level == DiagnosticStatus.ERROR
            assert st.message.endswith(
                "CameraInfo, all rejected: CameraInfo has zero width/height (uncalibrated camera): "
                "tracked/predicted objects withheld"
            )
            assert got["tracked"] == []
            for _ in range(100):  # the camera is calibrated now: lists flow, the level clears
                feed(with_info=True)
                st = last_status()
                if got["tracked"] and st is not None and st.level == DiagnosticStatus.OK:
                    break
            assert got["tracked"] and isinstance(got["tracked"][-1], TrackedObjects)
            assert st is not None and (st.level, st.message) == (DiagnosticStatus.OK, "ok")
