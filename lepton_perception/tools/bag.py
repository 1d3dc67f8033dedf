"""``lepton bag ...``: make a bag from a video, inspect it, play it into a ROS graph."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from tqdm import tqdm

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros.bag import BagWriter, bag_info
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time
from lepton_perception.tools.common import print_json, shared_dir

log = logging.getLogger(__name__)


def default_video() -> str:
    return str(shared_dir() / "data" / "video" / "pets09_s2l1_vtest.avi")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("from-video", help="turn a video into a bag of sensor_msgs/Image + CameraInfo")
    p.add_argument("video", nargs="?", default=None, help="video file (default: shared PETS 2009)")
    p.add_argument("out", help="output bag directory (must not exist)")
    p.add_argument("--fps", type=float, default=None, help="frame rate for stamps (default: container)")
    p.add_argument("--start-s", type=float, default=1_700_000_000.0, help="stamp of the first frame, s")
    p.add_argument("--namespace", default="/camera", help="camera namespace: NS/image_raw, NS/camera_info")
    p.add_argument("--frame-id", default="camera_optical_frame")
    p.add_argument("--hfov-deg", type=float, default=60.0, help="horizontal field of view for CameraInfo")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: all)")
    p.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_from_video)

    p = sub.add_parser("info", help="topics, types, counts and duration of a bag")
    p.add_argument("bag")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_info)

    p = sub.add_parser("play", help="publish a bag into the ROS graph at recorded timing")
    p.add_argument("bag")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    p.add_argument("--loop", action="store_true")
    p.add_argument("--clock", action="store_true", help="publish /clock from the recorded time")
    p.add_argument("--topics", nargs="*", default=None)
    p.add_argument("--remap", nargs="*", default=[], metavar="FROM:=TO")
    p.add_argument("--wait-s", type=float, default=2.0, help="wait up to this long for subscribers first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_play)


def video_messages(
    video: str,
    fps: float | None = None,
    start_s: float = 1_700_000_000.0,
    namespace: str = "/camera",
    frame_id: str = "camera_optical_frame",
    hfov_deg: float = 60.0,
) -> Iterator[tuple[str, int, Any]]:
    """``(topic, t_ns, message)``: CameraInfo then Image for every frame, stamped at ``fps``."""
    cap = cv2.VideoCapture(video)
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {video}")
    rate = fps or cap.get(cv2.CAP_PROP_FPS) or 10.0
    ns = namespace.rstrip("/")
    info: CameraInfo | None = None
    n = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            image = np.asarray(frame, dtype=np.uint8)
            # Integer nanoseconds: float seconds near 1.7e9 only resolve ~0.2 us.
            t_ns = round(start_s * 1e9) + round(n * 1e9 / rate)
            header = Header(stamp=ns_to_time(t_ns), frame_id=frame_id)
            if info is None:
                intr = CameraIntrinsics.from_fov(image.shape[1], image.shape[0], hfov_deg)
                info = intrinsics_to_camera_info(intr, header)
            info.header = header
            yield f"{ns}/camera_info", t_ns, info
            yield f"{ns}/image_raw", t_ns, image_to_msg(image, header)
            n += 1
    finally:
        cap.release()


def video_fps(video: str) -> float:
    cap = cv2.VideoCapture(video)
    rate = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    cap.release()
    return rate or 10.0


def video_to_bag(
    video: str,
    out: str,
    fps: float | None = None,
    start_s: float = 1_700_000_000.0,
    namespace: str = "/camera",
    frame_id: str = "camera_optical_frame",
    hfov_deg: float = 60.0,
    max_frames: int = 0,
    storage: str = "mcap",
) -> dict[str, object]:
    cap = cv2.VideoCapture(video)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    cap.release()
    if max_frames:
        total = min(total or max_frames, max_frames)
    rate = fps or video_fps(video)
    n = 0
    topics: list[str] = []
    with (
        BagWriter(out, storage=storage) as writer,
        tqdm(total=total, desc="bag from-video", unit="frame") as bar,
    ):
        for topic, t_ns, msg in video_messages(video, rate, start_s, namespace, frame_id, hfov_deg):
            if isinstance(msg, CameraInfo) and max_frames and n >= max_frames:
                break  # every frame starts with its CameraInfo
            writer.write(topic, msg, t_ns)
            if topic not in topics:
                topics.append(topic)
            if isinstance(msg, Image):
                n += 1
                bar.update()
    if n == 0:
        raise ValueError(f"video {video} has no readable frames")
    return {"bag": out, "frames": n, "fps": rate, "duration_s": n / rate, "topics": topics}


def run_from_video(args: argparse.Namespace) -> int:
    summary = video_to_bag(
        args.video or default_video(),
        args.out,
        args.fps,
        args.start_s,
        args.namespace,
        args.frame_id,
        args.hfov_deg,
        args.max_frames,
        args.storage,
    )
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {summary['frames']} frames at {summary['fps']:.2f} fps to {summary['bag']}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    info = bag_info(args.bag)
    if args.json:
        print_json(info)
    else:
        print(f"{info['path']}: {info['messages']} messages, {info['duration_s']:.2f} s")
        for topic, t in info["topics"].items():
            print(f"  {topic:<40} {t['type']:<45} {t['count']}")
    return 0


def run_play(args: argparse.Namespace) -> int:
    from lepton_perception.ros.player import play_bag

    remaps = dict(r.split(":=", 1) for r in args.remap)
    if not Path(args.bag).exists():
        log.error("bag %s does not exist", args.bag)
        return 2
    stats = play_bag(
        args.bag,
        rate=args.rate,
        loop=args.loop,
        clock=args.clock,
        topics=args.topics,
        remaps=remaps,
        wait_s=args.wait_s,
    )
    if args.json:
        print_json(stats)
    else:
        print(f"published {stats['published']} messages in {stats['wall_s']:.1f} s")
    return 0
