"""``lepton demo``: the main job on the shared PETS 2009 video, through a real ROS 2 graph.

video -> bag (Image + CameraInfo) -> bag replay (with /clock) -> perception node process (started as
the launch file starts it) -> outputs recorded to a bag + annotated video + summary.
Replay is lock-step by default: each frame is published once the node has answered the previous one,
so every frame is processed however slow the CPU is (``--rate`` replays at recorded timing instead).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import cv2
from autoware_perception_msgs.msg import PredictedObjects, TrackedObjects
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from tqdm import tqdm

from lepton_perception.ros import conversions as conv
from lepton_perception.ros.bag import BagMessage, bag_info
from lepton_perception.ros.graph import Graph
from lepton_perception.ros.params import default_params_file
from lepton_perception.ros.player import BagPlayer
from lepton_perception.ros.recorder import BagRecorder
from lepton_perception.ros.topics import TOPIC_BY_FIELD, output_topics
from lepton_perception.tools.bag import default_video, video_to_bag
from lepton_perception.tools.common import print_json

log = logging.getLogger(__name__)
NS = "/perception"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="main job: PETS 2009 video -> bag -> live ROS graph -> outputs")
    p.add_argument("--video", default=None, help="input video (default: shared PETS 2009)")
    p.add_argument("--out", default="out/demo", help="output directory")
    p.add_argument("--fps", type=float, default=7.0, help="stamp rate of the input bag (PETS09 is ~7 fps)")
    p.add_argument("--max-frames", type=int, default=0, help="only the first N frames (0: all)")
    p.add_argument("--rate", type=float, default=0.0, help="replay at recorded timing x RATE (0: lock-step)")
    p.add_argument("--params", nargs="*", default=[], help="params files applied over config/perception.yaml")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _is_fused(topic: str) -> bool:
    """``NS/objects``, ``NS/tracked_objects``: the fused list, not a camera's own (``NS/KEY/...``)."""
    return topic.rsplit("/", 1)[0] == NS


class _Answers:
    """Collects what the node publishes; lets the player wait for the answer to a given frame."""

    def __init__(self, video_path: Path, fps: float) -> None:
        self.cond = threading.Condition()
        self.answered: set[int] = set()
        self.video_path, self.fps = video_path, fps
        self.writer: cv2.VideoWriter | None = None
        self.frames_written = 0
        self.track_ids: set[bytes] = set()  # UUIDs of the camera's confirmed tracks
        self.paths = 0
        # The fused list of all cameras (``objects`` / ``tracked_objects``): counted apart, so the
        # camera's figures stay comparable with single-camera runs.
        self.fused_ids: set[bytes] = set()
        self.fused_paths = 0
        self.last_diag: dict[str, str] = {}

    def on_message(self, topic: str, msg: Any) -> None:
        if isinstance(msg, Image):
            self._write_frame(msg)
            with self.cond:
                self.answered.add(conv.time_to_ns(msg.header.stamp))
                self.cond.notify_all()
        elif isinstance(msg, TrackedObjects):
            ids = self.fused_ids if _is_fused(topic) else self.track_ids
            ids.update(bytes(o.object_id.uuid) for o in msg.objects)
        elif isinstance(msg, PredictedObjects):
            n = sum(len(o.kinematics.predicted_paths) for o in msg.objects)
            if _is_fused(topic):
                self.fused_paths += n
            else:
                self.paths += n
        elif isinstance(msg, DiagnosticArray):
            for st in msg.status:  # the camera's status (the node's comes first)
                if st.name.endswith(": node"):
                    continue
                self.last_diag = {kv.key: kv.value for kv in st.values}

    def _write_frame(self, msg: Image) -> None:
        image = conv.image_msg_to_bgr(msg)
        if self.writer is None:
            h, w = image.shape[:2]
            self.writer = cv2.VideoWriter(
                str(self.video_path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, (w, h)
            )
        self.writer.write(image)
        self.frames_written += 1

    def wait_for(self, stamp_ns: int, timeout_s: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: stamp_ns in self.answered, timeout=timeout_s)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


def _replay(
    graph: Graph,
    args: argparse.Namespace,
    params: list[str | Path],
    in_bag: Path,
    out_bag: Path,
    answers: _Answers,
) -> tuple[int, int, dict[str, int]]:
    """Play the input bag into the node, recording its answers. (frames, frames lost, counts per topic)."""
    out = Path(args.out)
    answer_topic = f"{NS}/{TOPIC_BY_FIELD['annotated_image'].name('camera')}"
    with graph.perception(params, NS, use_sim_time=True, log_path=out / "node.log") as proc:
        recorder = BagRecorder(
            graph.node, out_bag, output_topics(NS, ["camera"]), on_message=answers.on_message
        )
        # Lock-step: no timing of its own (rate 1e6), each frame waits for the node's answer below.
        player = BagPlayer(graph.node, in_bag, rate=args.rate or 1e6, clock=True)
        # Every bag topic matched (camera_info is best effort at the node: a message sent before
        # its reader knows the writer is lost), and the node's answers reach our recorder.
        graph.wait(
            lambda: player.wait_for_subscribers(0.5) and graph.node.count_publishers(answer_topic) > 0,
            60.0,
            proc,
        )
        time.sleep(1.0)  # both directions of discovery settle before the first frame
        n_frames = bag_info(in_bag)["topics"]["/camera/image_raw"]["count"]
        bar = tqdm(total=n_frames, desc="demo", unit="frame")
        lost = 0

        def after(m: BagMessage) -> None:
            nonlocal lost
            if m.topic != "/camera/image_raw":
                return
            bar.update()
            if args.rate == 0 and not answers.wait_for(conv.time_to_ns(m.msg.header.stamp), 30.0):
                lost += 1

        player.play_once(after)
        # Let sim time run past one more diagnostics period so the final counters are published.
        for k in range(1, 16):
            player.publish_clock(player.last_t_ns + k * 100_000_000)
            time.sleep(0.1)
        bar.close()
        recorder.close()
    return n_frames, lost, recorder.counts


def _video_overlay(video: str | None) -> list[Path]:
    """The shared PETS video's camera pose overlay (config/demo_pets09.yaml) when the demo runs on that
    video: without it the node would place its people as seen from a 1.65 m camera looking level."""
    overlay = default_params_file().with_name("demo_pets09.yaml")
    return [overlay] if video is None and overlay.is_file() else []


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    in_bag, out_bag = out / "input_bag", out / "output_bag"
    video = args.video or default_video()
    stamp = f"{Path(video).name}|{args.fps}|{args.max_frames}"
    stamp_file = out / ".input_stamp"  # what the cached input bag was made from
    if not (in_bag / "metadata.yaml").exists() or not stamp_file.exists() or stamp_file.read_text() != stamp:
        shutil.rmtree(in_bag, ignore_errors=True)
        video_to_bag(video, str(in_bag), fps=args.fps, max_frames=args.max_frames)
        stamp_file.write_text(stamp)
    shutil.rmtree(out_bag, ignore_errors=True)
    answers = _Answers(out / "annotated.mp4", args.fps)
    params: list[str | Path] = [default_params_file(), *_video_overlay(args.video), *args.params]
    t_start = time.monotonic()
    try:
        with Graph("lepton_demo") as graph:
            n_frames, lost, recorded = _replay(graph, args, params, in_bag, out_bag, answers)
    finally:
        answers.close()
    wall_s = time.monotonic() - t_start
    summary = {
        "frames": n_frames,
        "frames_answered": answers.frames_written,
        "frames_lost": lost,
        "detections": int(answers.last_diag.get("detections_total", 0)),
        "confirmed_tracks": len(answers.track_ids),
        "predicted_paths": answers.paths,
        "fused_objects": len(answers.fused_ids),
        "fused_predicted_paths": answers.fused_paths,
        "stage_ms": {k: float(v) for k, v in answers.last_diag.items() if k.endswith("_ms_p50")},
        "wall_s": round(wall_s, 1),
        "output_bag": str(out_bag),
        "annotated_video": str(out / "annotated.mp4"),
        "recorded": recorded,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if args.json:
        print_json(summary)
    else:
        print(json.dumps(summary, indent=2))
    return 0 if answers.frames_written > 0 else 1
