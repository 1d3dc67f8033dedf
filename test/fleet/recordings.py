"""Small real recordings for fleet and process tests: PETS 2009 frames at reduced size in bags/videos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros.bag import BagWriter
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time

VIDEO_REL = "data/video/pets09_s2l1_vtest.avi"


def read_frames(video: Path, start: int, count: int, scale: float = 0.5) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        assert ok, f"{video}: frame {start + len(frames)} unreadable"
        frames.append(cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    cap.release()
    return frames


def write_bag(
    path: Path, frames: list[np.ndarray], start_ns: int = 1_700_000_000_000_000_000, fps: float = 7.0
) -> Path:
    """A bag as ``lepton bag from-video`` makes it: CameraInfo then Image per frame on /camera."""
    h, w = frames[0].shape[:2]
    intr = CameraIntrinsics.from_fov(w, h, 60.0)
    with BagWriter(path) as writer:
        for i, frame in enumerate(frames):
            t_ns = start_ns + round(i * 1e9 / fps)
            header = Header(stamp=ns_to_time(t_ns), frame_id="camera_optical_frame")
            writer.write("/camera/camera_info", intrinsics_to_camera_info(intr, header), t_ns)
            writer.write("/camera/image_raw", image_to_msg(frame, header), t_ns)
    return path


def tree_bytes(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (or the file itself) with its bytes: to prove nothing changed."""
    if path.is_file():
        return {"": path.read_bytes()}
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
