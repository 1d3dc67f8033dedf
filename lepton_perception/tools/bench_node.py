"""``lepton bench node``: can the node keep up with N cameras at R Hz? Latency and drops over time.

Real PETS 2009 frames, resized to the requested size, are published for every camera at the given rate
into the node running in its own process (as the launch file starts it, with the Fast DDS shared-memory
profile). For every frame the node answers, latency = receive wall time - the image stamp (stamps are
wall-clock times of publication). The run is split into thirds: a latency that keeps growing from the
first to the last third means a queue is building up; a bounded one means stale frames are dropped.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros import conversions as conv
from lepton_perception.ros.graph import Graph
from lepton_perception.ros.params import default_params_file
from lepton_perception.ros.topics import DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, TOPIC_BY_FIELD
from lepton_perception.tools.bag import default_video
from lepton_perception.tools.common import print_json

NS = "/perception"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("node", help="multi-camera throughput/latency of the live node")
    p.add_argument("--cameras", type=int, default=2)
    p.add_argument("--rate", type=float, default=30.0, help="frames per second per camera")
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT of the published images")
    p.add_argument("--duration-s", type=float, default=20.0)
    p.add_argument("--params", nargs="*", default=[], help="params files applied over config/perception.yaml")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _frames(width: int, height: int, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(default_video())
    out: list[np.ndarray] = []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(np.asarray(cv2.resize(frame, (width, height)), dtype=np.uint8))
    cap.release()
    return out


def _camera_params(names: list[str]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(
            "/**:\n  ros__parameters:\n    io:\n      cameras: [" + ", ".join(f'"{n}"' for n in names) + "]\n"
        )
        return f.name


def _publish(
    pubs: dict[str, Any],
    info_pubs: dict[str, Any],
    msgs: dict[str, list[Image]],
    intr: CameraIntrinsics,
    rate: float,
    duration_s: float,
    start: float,
) -> dict[str, int]:
    """Publish every camera's frames at ``rate`` for ``duration_s`` from wall time ``start``."""
    published = dict.fromkeys(pubs, 0)
    period = 1.0 / rate
    k = 0
    while time.time() - start < duration_s:
        delay = start + k * period - time.time()
        if delay > 0:
            time.sleep(delay)
        stamp = conv.ns_to_time(time.time_ns())
        for n, pub in pubs.items():
            m = msgs[n][k % len(msgs[n])]
            m.header.stamp = stamp
            info_pubs[n].publish(conv.intrinsics_to_camera_info(intr, m.header))
            pub.publish(m)
            published[n] += 1
        k += 1
    return published


def _summary(
    lat_s: list[tuple[float, float]], published: int, duration_s: float, diag: dict[str, str]
) -> dict[str, Any]:
    lat = np.array([x for _, x in lat_s]) * 1e3
    t = np.array([t for t, _ in lat_s])
    thirds = [lat[(t >= duration_s * i / 3) & (t < duration_s * (i + 1) / 3)] for i in range(3)]
    return {
        "published": published,
        "processed": len(lat),
        "processed_hz": round(len(lat) / duration_s, 2),
        "stale_skipped_by_node": int(diag.get("stale_skipped", 0)),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        "latency_ms_max": round(float(lat.max()), 1) if len(lat) else None,
        "latency_ms_p50_by_third": [round(float(np.median(x)), 1) if len(x) else None for x in thirds],
    }


def bench(
    cameras: int, rate: float, width: int, height: int, duration_s: float, params: list[str]
) -> dict[str, Any]:
    names = [f"/cam{i}" for i in range(cameras)]
    cam_params = _camera_params(names)
    frames = _frames(width, height, 60)
    intr = CameraIntrinsics.from_fov(width, height, 70.0)
    latencies: dict[str, list[tuple[float, float]]] = {n: [] for n in names}  # (t since start, latency s)
    last_diag: dict[str, dict[str, str]] = {}
    start = time.time()

    def on_answer(cam: str, msg: Image) -> None:
        now = time.time()
        latencies[cam].append((now - start, now - conv.time_to_ns(msg.header.stamp) * 1e-9))

    def on_diag(msg: DiagnosticArray) -> None:
        for st in msg.status:
            last_diag[st.hardware_id] = {kv.key: kv.value for kv in st.values}

    answer = TOPIC_BY_FIELD["annotated_image"]
    log_path = Path(tempfile.gettempdir()) / "lepton_bench_node.log"
    try:
        with Graph("lepton_bench_node") as graph:
            node = graph.node
            for n in names:
                cb = functools.partial(on_answer, n)
                node.create_subscription(Image, f"{NS}/{answer.name(n.strip('/'))}", cb, answer.qos)
            node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, on_diag, DIAGNOSTICS_QOS)
            pubs = {n: node.create_publisher(Image, f"{n}/image_raw", qos_profile_sensor_data) for n in names}
            info_pubs = {
                n: node.create_publisher(CameraInfo, f"{n}/camera_info", qos_profile_sensor_data)
                for n in names
            }
            # Messages built once; only stamps change (the publisher must not be the bottleneck).
            msgs = {
                n: [conv.image_to_msg(fr, Header(frame_id=f"{n.strip('/')}_optical")) for fr in frames[:8]]
                for n in names
            }
            with graph.perception(
                [default_params_file(), cam_params, *params], NS, log_path=log_path
            ) as proc:
                graph.wait(lambda: all(p.get_subscription_count() > 0 for p in pubs.values()), 60.0, proc)
                start = time.time()  # answer times are measured from here (on_answer reads it)
                published = _publish(pubs, info_pubs, msgs, intr, rate, duration_s, start)
                time.sleep(2.0)  # answers in flight and the last diagnostics
    finally:
        os.unlink(cam_params)
    per_cam = {
        n: _summary(latencies[n], published[n], duration_s, last_diag.get(n.strip("/"), {})) for n in names
    }
    return {
        "cameras": cameras,
        "rate_hz": rate,
        "size": f"{width}x{height}",
        "duration_s": duration_s,
        "per_camera": per_cam,
    }


def run(args: argparse.Namespace) -> int:
    w, h = (int(v) for v in args.size.lower().split("x"))
    result = bench(args.cameras, args.rate, w, h, args.duration_s, args.params)
    if args.json:
        print_json(result)
    else:
        print(f"{args.cameras} cameras x {args.rate:g} Hz, {args.size}, {args.duration_s:g} s")
        for cam, r in result["per_camera"].items():
            print(
                f"  {cam}: published {r['published']}, processed {r['processed']} ({r['processed_hz']} Hz), "
                f"skipped as stale {r['stale_skipped_by_node']}, latency p50 {r['latency_ms_p50']} ms, "
                f"p95 {r['latency_ms_p95']} ms, max {r['latency_ms_max']} ms, "
                f"p50 by third {r['latency_ms_p50_by_third']}"
            )
    return 0
