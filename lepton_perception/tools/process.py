"""``lepton process INPUT --out OUT_BAG``: the full pipeline offline, as fast as possible, no ROS graph.

INPUT is a bag (images + camera_info of the configured cameras) or a video file (one camera). The
outputs are the node's messages, through the same ``PerceptionRunner``, written to a new bag stamped
with the source image times, so ``ros2 bag play`` and RViz can use it.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from tqdm import tqdm

from lepton_perception.ros import conversions as conv
from lepton_perception.ros.bag import BagWriter, bag_info, read_bag
from lepton_perception.ros.params import (
    NodeConfig,
    config_from_values,
    default_params_file,
    load_yaml_values,
)
from lepton_perception.ros.runner import CameraOutput, PerceptionRunner
from lepton_perception.tools.bag import video_messages
from lepton_perception.tools.common import print_json

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("process", help="run the whole pipeline offline on a bag or video; outputs to a bag")
    p.add_argument("input", help="bag directory or video file")
    p.add_argument("--out", required=True, help="output bag directory (replaced if it exists)")
    p.add_argument("--params", nargs="*", default=[], help="params files applied over config/perception.yaml")
    p.add_argument("--namespace", default="/perception", help="node namespace for output topic names")
    p.add_argument("--video-out", default=None, help="also write the annotated video here (.mp4)")
    p.add_argument("--fps", type=float, default=None, help="video input: stamp rate (default: container)")
    p.add_argument("--hfov-deg", type=float, default=60.0, help="video input: horizontal FOV for CameraInfo")
    p.add_argument("--max-frames", type=int, default=0)
    p.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def load_config(params: list[str]) -> NodeConfig:
    values: dict[str, Any] = {}
    for f in [str(default_params_file()), *params]:
        values.update(load_yaml_values(f))
    return config_from_values(values)


def process(
    config: NodeConfig,
    input_path: str,
    out: str,
    namespace: str = "/perception",
    video_out: str | None = None,
    fps: float | None = None,
    hfov_deg: float = 60.0,
    max_frames: int = 0,
    storage: str = "mcap",
) -> dict[str, Any]:
    runner = PerceptionRunner(config)
    cams = {cam.namespace.rstrip("/"): key for key, cam in runner.cameras.items()}
    suffix = "/image_raw/compressed" if config.io.image_transport == "compressed" else "/image_raw"
    total: int | None
    if Path(input_path).is_dir():
        info = bag_info(input_path)
        total = sum(info["topics"].get(ns + suffix, {}).get("count", 0) for ns in cams)
        messages: Iterator[tuple[str, Any]] = ((m.topic, m.msg) for m in read_bag(input_path))
    else:
        if len(cams) != 1:
            raise ValueError("a video is one camera; configure exactly one camera in io.cameras")
        total = None
        video = video_messages(input_path, fps, namespace=next(iter(cams)), hfov_deg=hfov_deg)
        messages = ((topic, msg) for topic, _, msg in video)
    if max_frames:
        total = min(total or max_frames, max_frames)
    shutil.rmtree(out, ignore_errors=True)
    ns = namespace.rstrip("/")
    writer_video: cv2.VideoWriter | None = None
    frames = 0
    t0 = time.perf_counter()
    stage_ms: dict[str, list[float]] = {}
    track_ids: set[tuple[str, int]] = set()
    n_dets = 0
    with BagWriter(out, storage=storage) as writer, tqdm(total=total, desc="process", unit="frame") as bar:
        for topic, msg in messages:
            if _feed_world(runner, topic, msg):
                continue
            cam_ns = topic.rsplit("/", 2 if topic.endswith("/compressed") else 1)[0]
            key = cams.get(cam_ns)
            if key is None:
                continue
            if isinstance(msg, CameraInfo):
                runner.set_camera_info(key, msg)
                continue
            if not isinstance(msg, Image | CompressedImage) or not topic.endswith(suffix):
                continue
            if max_frames and frames >= max_frames:
                break
            frames += 1
            bar.update()
            outputs = runner.process([(key, msg)])
            t_ns = conv.time_to_ns(msg.header.stamp)
            _write_fused(writer, ns, runner.fuse(outputs), t_ns)
            for output in outputs:
                if output.result is None or output.messages is None:
                    continue
                for out_topic, out_msg in output.messages.items():
                    writer.write(f"{ns}/{out_topic.name(key)}", out_msg, t_ns)
                res = output.result
                n_dets += len(res.detections)
                track_ids.update(
                    (key, t.track_id) for t in res.tracks if t.state.name in ("CONFIRMED", "COASTING")
                )
                for stage, ms in res.timings_ms.items():
                    stage_ms.setdefault(stage, []).append(ms)
                if video_out and output.messages.annotated_image is not None:
                    img = conv.image_msg_to_bgr(output.messages.annotated_image)
                    if writer_video is None:
                        writer_video = cv2.VideoWriter(
                            video_out,
                            cv2.VideoWriter.fourcc(*"mp4v"),
                            fps or 10.0,
                            (img.shape[1], img.shape[0]),
                        )
                    writer_video.write(img)
    if writer_video is not None:
        writer_video.release()
    wall = time.perf_counter() - t0
    counters: dict[str, int] = {}
    for snap in runner.diagnostics().cameras.values():
        for k, v in snap.totals.items():
            counters[k] = counters.get(k, 0) + v
    return {
        "frames": frames,
        "detections": n_dets,
        "confirmed_tracks": len(track_ids),
        "stage_ms_mean": {k: round(float(np.mean(v)), 3) for k, v in stage_ms.items()},
        "fps": round(frames / wall, 2) if wall > 0 else 0.0,
        "counters": counters,
        "output_bag": out,
        "detector": f"{runner.detector.name}/{runner.detector.device}",
    }


# --- world frame: the node's odometry subscription and fused list, offline (docs/world.md) -----------
def _feed_world(runner: PerceptionRunner, topic: str, msg: Any) -> bool:
    """Odometry on the configured topic goes to the runner's ego poses, as the node's subscription
    does; True when ``msg`` was one."""
    if isinstance(msg, Odometry) and topic == runner.config.world.odometry_topic:
        runner.add_odometry(msg)
        return True
    return False


def _write_fused(writer: BagWriter, ns: str, fused: CameraOutput | None, t_ns: int) -> None:
    """The fused list (``objects``, ``tracked_objects``, its markers), as the node publishes it."""
    if fused is None or fused.messages is None:
        return
    for out_topic, out_msg in fused.messages.items():
        writer.write(f"{ns}/{out_topic.name(fused.key)}", out_msg, t_ns)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.params)  # the node's own check: same names, types, ranges
    except ValueError as exc:
        for problem in str(exc).split("; "):
            print(f"invalid parameter: {problem}", file=sys.stderr)
        return 2
    summary = process(
        config,
        args.input,
        args.out,
        args.namespace,
        args.video_out,
        args.fps,
        args.hfov_deg,
        args.max_frames,
        args.storage,
    )
    if args.json:
        print_json(summary)
    else:
        print(json.dumps(summary, indent=2))
    return 0 if summary["frames"] else 1
