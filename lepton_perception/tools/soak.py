"""``lepton soak``: many frames through the live node while its memory (RSS) is sampled.

The node runs in its own process exactly as the launch file starts it, through the project's one graph
harness (``ros/graph.py``: a fresh ROS domain, our rclpy node spun in a thread, ``NodeProcess``). Real
PETS 2009 frames, resized to ``--size``, are published for ``--cameras`` cameras in lock-step: a round
publishes one frame (and its ``CameraInfo``) per camera, then waits until the node has answered every
one of them on ``KEY/tracked_objects``, so every frame goes through decode, detector, tracker,
predictor and every publisher (the soak subscribes to the annotated images and markers, which the node
builds only for subscribers; an unanswered frame is counted as lost after ``--answer-timeout-s``).
Stamps advance 0.1 s per round, so tracks are born, coast and die as in a drive.

RSS of the node process is read from ``/proc/PID/status`` (VmRSS) about twice a second. Growth is the
last sample minus the first sample after ``--warmup-frames`` answered frames (import, model load,
allocator pools and the tracker's bounded histories settle during warm-up); the peak and a
least-squares slope over the post-warm-up samples are reported too. Exit code 1 when growth reaches
``--max-growth-mb``, a frame is lost or the node dies.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from autoware_perception_msgs.msg import TrackedObjects
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from tqdm import tqdm

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros import conversions as conv
from lepton_perception.ros.graph import Graph
from lepton_perception.ros.node_process import NodeProcess
from lepton_perception.ros.params import default_params_file
from lepton_perception.ros.topics import DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, TOPIC_BY_FIELD
from lepton_perception.tools.bench_node import _frames
from lepton_perception.tools.common import print_json

NS = "/perception"
ROUND_S = 0.1  # stamp step between rounds (a 10 Hz camera)
SAMPLE_PERIOD_S = 0.5


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("soak", help="memory soak: many frames through the live node, RSS sampled")
    p.add_argument("--frames", type=int, default=20000, help="frames in total (all cameras)")
    p.add_argument("--cameras", type=int, default=4, help="cameras, one detector batch per round")
    p.add_argument("--size", default="320x240", help="WIDTHxHEIGHT of the published images")
    p.add_argument("--input-size-px", type=int, default=192, help="detector.input_size_px of the node")
    p.add_argument("--warmup-frames", type=int, default=None, help="default: min(2000, frames / 5)")
    p.add_argument("--max-growth-mb", type=float, default=20.0)
    p.add_argument("--answer-timeout-s", type=float, default=10.0)
    p.add_argument("--params", nargs="*", default=[], help="params files applied over config/perception.yaml")
    p.add_argument("--log", default=None, help="node log file (default: a temporary file)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB (VmRSS of /proc/PID/status, kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass(frozen=True)
class RssSample:
    frames: int  # frames answered when the sample was taken
    t_s: float  # since the first frame
    rss_mb: float


def memory_growth(samples: list[RssSample], warmup_frames: int) -> dict[str, float | None]:
    """Baseline (first sample after warm-up), last, peak, growth and slope of RSS, in MB."""
    after = [s for s in samples if s.frames >= warmup_frames]
    if not after:
        return dict.fromkeys(("baseline_mb", "final_mb", "peak_mb", "growth_mb", "peak_growth_mb"), None)
    base, last = after[0].rss_mb, after[-1].rss_mb
    peak = max(s.rss_mb for s in after)
    slope = None
    if len(after) >= 3 and after[-1].frames > after[0].frames:
        x = np.array([s.frames for s in after], dtype=float)
        slope = float(np.polyfit(x, [s.rss_mb for s in after], 1)[0]) * 10_000
    return {
        "baseline_mb": round(base, 1),
        "final_mb": round(last, 1),
        "peak_mb": round(peak, 1),
        "growth_mb": round(last - base, 2),
        "peak_growth_mb": round(peak - base, 2),
        "slope_mb_per_10k_frames": None if slope is None else round(slope, 2),
    }


@dataclass
class _Answers:
    """Stamps answered per camera key, and the node's latest diagnostics per hardware id."""

    answered: dict[str, set[int]] = field(default_factory=dict)
    diagnostics: dict[str, dict[str, str]] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def on_objects(self, key: str, msg: TrackedObjects) -> None:
        with self.cond:
            self.answered.setdefault(key, set()).add(conv.time_to_ns(msg.header.stamp))
            self.cond.notify_all()

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        for st in msg.status:
            self.diagnostics[st.name] = {kv.key: kv.value for kv in st.values}

    def wait(self, keys: list[str], stamp_ns: int, timeout_s: float) -> list[str]:
        """Keys still unanswered for ``stamp_ns`` after up to ``timeout_s``; answered stamps are dropped."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while missing := [k for k in keys if stamp_ns not in self.answered.get(k, set())]:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            for k in keys:
                self.answered.get(k, set()).discard(stamp_ns)
            return missing


@dataclass(frozen=True)
class SoakConfig:
    frames: int = 20000
    cameras: int = 4
    width: int = 320
    height: int = 240
    input_size_px: int = 192
    warmup_frames: int = 2000
    max_growth_mb: float = 20.0
    answer_timeout_s: float = 10.0
    params: tuple[str, ...] = ()
    log_path: str | None = None


@dataclass
class _Endpoints:
    """Our side of the graph, on the harness's node: camera publishers and answer subscriptions."""

    images: dict[str, Any]
    infos: dict[str, Any]


def _endpoints(node: Node, keys: list[str], answers: _Answers) -> _Endpoints:
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    for key in keys:
        node.create_subscription(
            TrackedObjects,
            f"{NS}/{key}/tracked_objects",
            functools.partial(answers.on_objects, key),
            reliable,
        )
    node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, answers.on_diagnostics, DIAGNOSTICS_QOS)
    # A viewer on the optional outputs: the node builds them only for subscribers, and they must soak too.
    for t in (TOPIC_BY_FIELD["annotated_image"], TOPIC_BY_FIELD["markers"]):
        for key in keys if t.per_camera else [""]:
            node.create_subscription(t.msg_type, f"{NS}/{t.name(key)}", lambda _msg: None, t.qos)
    return _Endpoints(
        images={k: node.create_publisher(Image, f"/{k}/image_raw", qos_profile_sensor_data) for k in keys},
        infos={
            k: node.create_publisher(CameraInfo, f"/{k}/camera_info", qos_profile_sensor_data) for k in keys
        },
    )


def _wait_matched(graph: Graph, ends: _Endpoints, proc: NodeProcess) -> None:
    """Until the node subscribes to every camera and publishes every answer topic (90 s at most)."""
    answer_topics = [f"{NS}/{k}/tracked_objects" for k in ends.images]
    pubs = [*ends.images.values(), *ends.infos.values()]
    graph.wait(
        lambda: (
            all(p.get_subscription_count() > 0 for p in pubs)
            and all(graph.node.count_publishers(t) > 0 for t in answer_topics)
        ),
        90.0,
        proc,
    )
    time.sleep(1.0)  # both directions of discovery settle before the first frame


def _node_params(keys: list[str], input_size_px: int) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        cams = ", ".join(f'"/{k}"' for k in keys)
        f.write(
            f"/**:\n  ros__parameters:\n    io:\n      cameras: [{cams}]\n"
            f"    detector:\n      input_size_px: {input_size_px}\n"
        )
        return f.name


def _drive(cfg: SoakConfig, ends: _Endpoints, answers: _Answers, proc: NodeProcess) -> dict[str, Any]:
    """Lock-step rounds until ``cfg.frames`` frames were published; RSS sampled along the way."""
    keys = list(ends.images)
    video = _frames(cfg.width, cfg.height, 200)
    msgs = {
        k: [conv.image_to_msg(fr, Header(frame_id=f"{k}_optical")) for fr in video[i * 7 :] + video[: i * 7]]
        for i, k in enumerate(keys)
    }
    intr = CameraIntrinsics.from_fov(cfg.width, cfg.height, 70.0)
    assert proc.proc is not None
    pid = proc.proc.pid
    samples: list[RssSample] = [RssSample(0, 0.0, rss_mb(pid))]
    t0_ns, start, published, answered, lost = time.time_ns(), time.monotonic(), 0, 0, 0
    n_rounds = -(-cfg.frames // len(keys))
    bar = tqdm(total=n_rounds * len(keys), desc="soak", unit="frame", disable=None)  # stderr, TTY only
    for r in range(n_rounds):
        stamp_ns = t0_ns + round(r * ROUND_S * 1e9)
        for k in keys:
            m = msgs[k][r % len(msgs[k])]
            m.header.stamp = conv.ns_to_time(stamp_ns)
            ends.infos[k].publish(conv.intrinsics_to_camera_info(intr, m.header))
            ends.images[k].publish(m)
        published += len(keys)
        missing = answers.wait(keys, stamp_ns, cfg.answer_timeout_s)
        answered += len(keys) - len(missing)
        lost += len(missing)
        bar.update(len(keys))
        if not proc.alive():
            break
        if time.monotonic() - start - samples[-1].t_s >= SAMPLE_PERIOD_S or r == n_rounds - 1:
            samples.append(RssSample(answered, time.monotonic() - start, rss_mb(pid)))
    bar.close()
    wall_s = time.monotonic() - start
    return {
        "frames_published": published,
        "frames_answered": answered,
        "frames_lost": lost,
        "wall_s": round(wall_s, 1),
        "frames_per_s": round(answered / max(wall_s, 1e-9), 1),
        "samples": samples,
    }


def soak(cfg: SoakConfig) -> dict[str, Any]:
    """Run the soak; the report's fields are documented in the module docstring and docs/ros.md."""
    keys = [f"soak{i}" for i in range(cfg.cameras)]
    cam_params = _node_params(keys, cfg.input_size_px)
    log_path = Path(cfg.log_path or Path(tempfile.gettempdir()) / f"lepton_soak_{os.getpid()}.log")
    answers = _Answers()
    try:
        params: list[str | Path] = [default_params_file(), cam_params, *cfg.params]
        with Graph("lepton_soak") as graph, graph.perception(params, NS, log_path=log_path) as proc:
            ends = _endpoints(graph.node, keys, answers)
            _wait_matched(graph, ends, proc)
            driven = _drive(cfg, ends, answers, proc)
            time.sleep(1.5)  # one more diagnostics period with the final counters
            alive = proc.alive()
    finally:
        os.unlink(cam_params)
    samples: list[RssSample] = driven.pop("samples")
    memory = memory_growth(samples, cfg.warmup_frames)
    growth = memory["growth_mb"]
    ok = alive and driven["frames_lost"] == 0 and growth is not None and growth < cfg.max_growth_mb
    processed = {
        k: answers.diagnostics.get(f"lepton_perception: camera {k}", {}).get("processed_total") for k in keys
    }
    return {
        "frames": cfg.frames,
        "cameras": cfg.cameras,
        "size": f"{cfg.width}x{cfg.height}",
        "detector_input_size_px": cfg.input_size_px,
        **driven,
        "node_alive_at_end": alive,
        "node_processed_by_camera": processed,
        "warmup_frames": cfg.warmup_frames,
        "rss_start_mb": round(samples[0].rss_mb, 1),
        **memory,
        "rss_samples": len(samples),
        # about 20 samples, frames answered -> RSS MB, to see the shape of the curve
        "rss_mb_by_frames": {
            str(s.frames): round(s.rss_mb, 1) for s in samples[:: max(1, len(samples) // 20)]
        },
        "max_growth_mb": cfg.max_growth_mb,
        "passed": ok,
        "node_log": str(log_path),
    }


def run(args: argparse.Namespace) -> int:
    w, h = (int(v) for v in args.size.lower().split("x"))
    warmup = args.warmup_frames if args.warmup_frames is not None else min(2000, args.frames // 5)
    cfg = SoakConfig(
        args.frames,
        args.cameras,
        w,
        h,
        args.input_size_px,
        warmup,
        args.max_growth_mb,
        args.answer_timeout_s,
        tuple(args.params),
        args.log,
    )
    report = soak(cfg)
    if args.json:
        print_json(report)
    else:
        print(
            f"soak: {report['frames_answered']}/{report['frames']} frames answered ({report['frames_lost']} "
            f"lost) in {report['wall_s']} s ({report['frames_per_s']} frames/s), {cfg.cameras} cameras "
            f"{report['size']}; RSS {report['rss_start_mb']} MB at start, {report['baseline_mb']} MB after "
            f"{warmup} warm-up frames, {report['final_mb']} MB at the end (growth {report['growth_mb']} MB, "
            f"peak +{report['peak_growth_mb']} MB, slope {report['slope_mb_per_10k_frames']} MB/10k "
            f"frames); {'PASS' if report['passed'] else 'FAIL'} (limit {cfg.max_growth_mb:g} MB)"
        )
    return 0 if report["passed"] else 1
