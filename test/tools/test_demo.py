"""The main job end to end on the first frames of PETS 2009 (the full video runs in scripts/demo),
and the same bag processed offline: live and offline must give the same tracks."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from lepton_perception.ros.bag import bag_info, read_bag
from lepton_perception.ros.conversions import time_to_ns
from lepton_perception.tools.cli import main

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)

REPO = Path(__file__).resolve().parents[2]
OVERLAY = str(REPO / "config" / "demo_pets09.yaml")
OBJECT_TOPICS = ("detections", "tracked_objects", "predicted_objects", "annotated_image")


def _tracks(bag: Path) -> dict[int, list[tuple[bytes, float, float, float, float]]]:
    """stamp_ns -> sorted (uuid, x, y, vx, vy) of every tracked object in the bag."""
    out = {}
    for m in read_bag(bag, ["/perception/camera/tracked_objects"]):
        objs = []
        for o in m.msg.objects:
            p = o.kinematics.pose_with_covariance.pose.position
            v = o.kinematics.twist_with_covariance.twist.linear
            objs.append((bytes(o.object_id.uuid), p.x, p.y, v.x, v.y))
        out[time_to_ns(m.msg.header.stamp)] = sorted(objs)
    return out


def test_demo_live_and_offline_give_the_same_tracks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--max-frames", "15", "--out", str(out), "--params", OVERLAY, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 15
    assert summary["frames_answered"] == 15 and summary["frames_lost"] == 0
    assert summary["confirmed_tracks"] >= 3  # several people walk through the first two seconds
    assert summary["detections"] >= 5 * 15
    info = bag_info(out / "output_bag")
    for name in OBJECT_TOPICS:
        assert info["topics"][f"/perception/camera/{name}"]["count"] == 15, name
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 15
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (768, 576)

    # Every output type: the source image stamps exactly, and the right frame.
    sent = [time_to_ns(m.msg.header.stamp) for m in read_bag(out / "input_bag", ["/camera/image_raw"])]
    frames = {
        "detections": "camera_optical_frame",
        "annotated_image": "camera_optical_frame",
        "tracked_objects": "base_link",
        "predicted_objects": "base_link",
    }
    for name, frame_id in frames.items():
        msgs = [m.msg for m in read_bag(out / "output_bag", [f"/perception/camera/{name}"])]
        assert [time_to_ns(m.header.stamp) for m in msgs] == sent, name
        assert {m.header.frame_id for m in msgs} == {frame_id}, name
    predicted = [m.msg for m in read_bag(out / "output_bag", ["/perception/camera/predicted_objects"])]
    paths = [p for msg in predicted for o in msg.objects for p in o.kinematics.predicted_paths]
    assert paths and all(len(p.path) == 12 for p in paths)

    offline = tmp_path / "offline"
    assert (
        main(["process", str(out / "input_bag"), "--out", str(offline), "--params", OVERLAY, "--json"]) == 0
    )
    processed = json.loads(capsys.readouterr().out)
    assert processed["frames"] == 15 and processed["counters"]["processed"] == 15
    live, off = _tracks(out / "output_bag"), _tracks(offline)
    assert live.keys() == off.keys() and len(live) == 15
    assert sum(len(v) for v in live.values()) > 0
    for stamp in live:
        assert [o[0] for o in live[stamp]] == [o[0] for o in off[stamp]], "track UUIDs differ"
        np.testing.assert_allclose([o[1:] for o in live[stamp]], [o[1:] for o in off[stamp]], atol=1e-6)


def test_the_demo_on_the_shared_video_uses_its_camera_pose() -> None:
    """`lepton demo` on its default video (PETS, a camera 5 m up) applies the PETS pose overlay, as
    scripts/demo does; on another video the user's --params say where the camera is."""
    from lepton_perception.tools.demo import _video_overlay

    assert [str(p) for p in _video_overlay(None)] == [OVERLAY]
    assert _video_overlay("/some/other/video.avi") == []
