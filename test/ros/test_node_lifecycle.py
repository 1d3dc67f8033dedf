"""The node process at its edges: bad params files (exit 2, naming the parameter), SIGINT/SIGTERM at
start-up and while frames flow (no traceback, exit 0, the node answered frames before it stopped)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from autoware_perception_msgs.msg import TrackedObjects
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
from lepton_perception.ros.graph import Graph
from lepton_perception.ros.node_process import NodeProcess
from lepton_perception.ros.params import default_params_file
from lepton_perception.ros.topics import OBJECTS_QOS

pytestmark = pytest.mark.ros


def _run_to_exit(params: list[str | Path], log: Path, timeout_s: float = 60.0) -> int:
    with NodeProcess(params, "/lifecycle", log_path=log) as proc:
        assert proc.proc is not None
        return proc.proc.wait(timeout=timeout_s)


def test_params_file_typos_and_type_errors_exit_2_naming_them(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "/**:\n  ros__parameters:\n    tracker:\n      max_coast_seconds: 2.0\n"
        "    io:\n      camera_info_wait_s: 1\n"
    )
    log = tmp_path / "node.log"
    assert _run_to_exit([default_params_file(), bad], log) == 2
    text = log.read_text()
    assert "invalid parameter: unknown parameter tracker.max_coast_seconds" in text
    assert "invalid parameter: io.camera_info_wait_s: expected double, got integer 1" in text
    assert "Traceback" not in text
    # `lepton process` refuses the same file with the same lines and the same exit code.
    offline = subprocess.run(
        [sys.executable, "-m", "lepton_perception.tools.cli", "process", str(tmp_path), "--out",
         str(tmp_path / "out"), "--params", str(bad)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert offline.returncode == 2
    assert offline.stderr.splitlines() == [
        "invalid parameter: unknown parameter tracker.max_coast_seconds",
        "invalid parameter: io.camera_info_wait_s: expected double, got integer 1",
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_start_up_exits_cleanly(tmp_path: Path, signum: int) -> None:
    log = tmp_path / "node.log"
    with NodeProcess(default_params_file(), "/early", log_path=log) as proc:
        assert proc.proc is not None
        time.sleep(1.5)  # importing torch / loading the model
        proc.proc.send_signal(signum)
        code = proc.proc.wait(timeout=30)
    assert code == 0, log.read_text()[-2000:]
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_frames_flow_exits_cleanly(
    tmp_path: Path, pets_frames: list[np.ndarray], signum: int
) -> None:
    log = tmp_path / "node.log"
    ns = "/flowing"
    with Graph("lifecycle_feeder", spin=False) as g:
        tracked: list[TrackedObjects] = []
        g.node.create_subscription(
            TrackedObjects, f"{ns}/camera/tracked_objects", tracked.append, OBJECTS_QOS
        )
        img = g.node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
        info = g.node.create_publisher(CameraInfo, "/camera/camera_info", qos_profile_sensor_data)
        with g.perception([default_params_file()], ns, log_path=log) as proc:
            g.wait(lambda: img.get_subscription_count() > 0, 60.0, proc)
            intr = CameraIntrinsics.from_fov(768, 576, 60.0)
            k = 0
            deadline = time.monotonic() + 60.0
            while len(tracked) < 3 and time.monotonic() < deadline:
                header = Header(stamp=ns_to_time(1_700_000_000_000_000_000 + k * 100_000_000), frame_id="cam")
                info.publish(intrinsics_to_camera_info(intr, header))
                img.publish(image_to_msg(pets_frames[k % len(pets_frames)], header))
                g.executor.spin_once(timeout_sec=0.15)
                k += 1
            assert len(tracked) >= 3, log.read_text()[-2000:]
            img.publish(image_to_msg(pets_frames[0], Header(stamp=ns_to_time(1_800_000_000_000_000_000))))
            assert proc.proc is not None
            proc.proc.send_signal(signum)  # a frame is (probably) in the worker right now
            code = proc.proc.wait(timeout=30)
    assert code == 0, log.read_text()[-2000:]
    assert "Traceback" not in log.read_text()
