"""Video -> bag -> read back: real frames, increasing stamps, CameraInfo beside every image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lepton_perception.ros.bag import bag_info, read_bag
from lepton_perception.ros.conversions import camera_info_to_intrinsics, image_msg_to_bgr, time_to_ns
from lepton_perception.tools.bag import video_to_bag
from lepton_perception.tools.cli import main

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)


def test_video_to_bag_round_trip(tmp_path: Path, shared: Path, pets_frames: list[np.ndarray]) -> None:
    bag = tmp_path / "bag"
    summary = video_to_bag(str(shared / "data/video/pets09_s2l1_vtest.avi"), str(bag), fps=7.0, max_frames=6)
    assert summary["frames"] == 6
    info = bag_info(bag)
    assert info["topics"]["/camera/image_raw"] == {"type": "sensor_msgs/msg/Image", "count": 6}
    assert info["topics"]["/camera/camera_info"]["count"] == 6
    images = [m for m in read_bag(bag) if m.topic == "/camera/image_raw"]
    stamps = np.array([time_to_ns(m.msg.header.stamp) for m in images])
    np.testing.assert_allclose(np.diff(stamps), 1e9 / 7.0, atol=1)
    assert [m.t_ns for m in images] == stamps.tolist()  # recorded time == header stamp
    np.testing.assert_array_equal(image_msg_to_bgr(images[3].msg), pets_frames[3])
    info_msg = next(m.msg for m in read_bag(bag, ["/camera/camera_info"]))
    intr = camera_info_to_intrinsics(info_msg)
    assert (intr.width, intr.height) == (768, 576)
    assert intr.fx == pytest.approx(384 / np.tan(np.radians(30)))


def test_cli_bag_info_json(tmp_path: Path, shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = tmp_path / "b"
    assert main(["bag", "from-video", str(bag), "--max-frames", "2", "--storage", "sqlite3"]) == 0
    capsys.readouterr()
    assert main(["bag", "info", str(bag), "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert info["messages"] == 4
