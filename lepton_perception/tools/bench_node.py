"""``lepton bench node``: can the node keep up with N cameras at R Hz? Latency, drops, and where the
cycle goes.

Real PETS 2009 frames, resized to the requested size, are published for every camera at the given rate
into the node running in its own process (as the launch file starts it, with the Fast DDS shared-memory
profile). For every frame the node answers, latency = receive wall time - the image stamp (stamps are
wall-clock times of publication). The run is split into thirds: a latency that keeps growing from the
first to the last third means a queue is building up; a bounded one means stale frames are dropped.

The cycle of one frame (convert, preprocess, inference, postprocess, track, predict, build, fuse,
publish; ``cycle`` = the time per batch at full load, the fused list of all cameras included: when
the node pipelines (``io.pipeline``) its detector thread and output thread overlap, so the longer of
the two; else their sum; like every stage, per processed frame: a batch's time split over its
frames, so with several cameras the stages still add up to the cycle) comes from the node's own
medians over its last 200 frames (``*_ms_p50`` in
/diagnostics). ``--also-pipeline MODE`` runs one more node with ``io.pipeline`` MODE (no subscriber),
for the comparison in one run (JSON ``also_pipeline``). Subscribers: the
bench listens to every camera's detections (latency) and, as a planner does, to the fused ``objects``;
nobody listens to the per-camera tracked/predicted lists or the markers (the node builds neither). By
default the node runs twice: with nobody listening to the annotated image (not drawn, not sent) and with
a subscriber to it. ``--json``: per camera
``cycle_ms_p50`` and ``stages_ms_p50`` (stage -> ms) of the run without a subscriber, and the same
under ``with_annotated_image_subscriber``.
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
from autoware_perception_msgs.msg import PredictedObjects
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros import conversions as conv
from lepton_perception.ros.graph import Graph
from lepton_perception.ros.params import default_params_file
from lepton_perception.ros.runner import STAGES
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
    p.add_argument(
        "--annotated-subscriber",
        choices=["no", "yes", "both"],
        default="both",
        help="run with no annotated-image subscriber, with one, or both (two node runs)",
    )
    p.add_argument(
        "--also-pipeline",
        choices=["auto", "always", "never"],
        default=None,
        help="one more node run with this io.pipeline (no subscriber), to compare in the same run",
    )
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


def _params_file(yaml_text: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(yaml_text)
        return f.name


def _camera_params(names: list[str]) -> str:
    return _params_file(
        "/**:\n  ros__parameters:\n    io:\n      cameras: [" + ", ".join(f'"{n}"' for n in names) + "]\n"
    )


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


def _stages(diag: dict[str, str]) -> dict[str, float]:
    """Stage -> median ms over the node's last frames, in cycle order, from its /diagnostics values."""
    found = {k.removesuffix("_ms_p50"): float(v) for k, v in diag.items() if k.endswith("_ms_p50")}
    order = [s for s in ("convert", "detect", *STAGES[1:]) if s in found]
    return {s: round(found[s], 2) for s in order}


def _summary(
    lat_s: list[tuple[float, float]], published: int, duration_s: float, diag: dict[str, str]
) -> dict[str, Any]:
    lat = np.array([x for _, x in lat_s]) * 1e3
    t = np.array([t for t, _ in lat_s])
    thirds = [lat[(t >= duration_s * i / 3) & (t < duration_s * (i + 1) / 3)] for i in range(3)]
    stages = _stages(diag)
    cycle = float(diag["cycle_ms_p50"]) if "cycle_ms_p50" in diag else None
    inference = stages.get("inference")
    return {
        "published": published,
        "processed": len(lat),
        "processed_hz": round(len(lat) / duration_s, 2),
        "stale_skipped_by_node": int(diag.get("stale_skipped_total", 0)),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        "latency_ms_max": round(float(lat.max()), 1) if len(lat) else None,
        "latency_ms_p50_by_third": [round(float(np.median(x)), 1) if len(x) else None for x in thirds],
        "cycle_ms_p50": None if cycle is None else round(cycle, 2),
        "stages_ms_p50": stages,
        # share of the cycle spent outside the network (None until the detector reports its split)
        "outside_inference_pct": None
        if cycle is None or inference is None
        else round(100.0 * (cycle - inference) / cycle, 1),
    }


def _run_node(
    graph: Graph,
    names: list[str],
    params: list[str | Path],
    *,
    frames: list[np.ndarray],
    rate: float,
    duration_s: float,
    annotated_subscriber: bool,
) -> dict[str, Any]:
    """One node process; answers (latency) on KEY/detections, stage medians from its last diagnostics."""
    node = graph.node
    intr = CameraIntrinsics.from_fov(frames[0].shape[1], frames[0].shape[0], 70.0)
    latencies: dict[str, list[tuple[float, float]]] = {n: [] for n in names}  # (t since start, latency s)
    last_diag: dict[str, dict[str, str]] = {}
    start = time.time()

    def on_answer(cam: str, msg: Detection2DArray) -> None:
        now = time.time()
        latencies[cam].append((now - start, now - conv.time_to_ns(msg.header.stamp) * 1e-9))

    def on_diag(msg: DiagnosticArray) -> None:
        for st in msg.status:
            last_diag[st.hardware_id] = {kv.key: kv.value for kv in st.values}

    answer, annotated = TOPIC_BY_FIELD["detections"], TOPIC_BY_FIELD["annotated_image"]
    planner = TOPIC_BY_FIELD["objects"]  # the fused list of all cameras, what a planner subscribes to
    subs = [
        node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, on_diag, DIAGNOSTICS_QOS),
        node.create_subscription(PredictedObjects, f"{NS}/{planner.name('')}", lambda _m: None, planner.qos),
    ]
    for n in names:
        key = n.strip("/")
        cb = functools.partial(on_answer, n)
        subs.append(node.create_subscription(Detection2DArray, f"{NS}/{answer.name(key)}", cb, answer.qos))
        if annotated_subscriber:  # a viewer: the node must now draw and send the annotated image
            topic = f"{NS}/{annotated.name(key)}"
            subs.append(node.create_subscription(Image, topic, lambda _m: None, annotated.qos))
    pubs = {n: node.create_publisher(Image, f"{n}/image_raw", qos_profile_sensor_data) for n in names}
    info_pubs = {
        n: node.create_publisher(CameraInfo, f"{n}/camera_info", qos_profile_sensor_data) for n in names
    }
    # Messages built once; only stamps change (the publisher must not be the bottleneck).
    msgs = {
        n: [conv.image_to_msg(fr, Header(frame_id=f"{n.strip('/')}_optical")) for fr in frames[:8]]
        for n in names
    }
    log_path = Path(tempfile.gettempdir()) / "lepton_bench_node.log"
    try:
        with graph.perception(params, NS, log_path=log_path) as proc:
            graph.wait(lambda: all(p.get_subscription_count() > 0 for p in pubs.values()), 60.0, proc)
            if annotated_subscriber:
                topics = [f"{NS}/{annotated.name(n.strip('/'))}" for n in names]
                graph.wait(lambda: all(node.count_publishers(t) > 0 for t in topics), 60.0, proc)
            start = time.time()  # answer times are measured from here (on_answer reads it)
            published = _publish(pubs, info_pubs, msgs, intr, rate, duration_s, start)
            time.sleep(2.0)  # answers in flight and the last diagnostics
    finally:  # the next run starts clean on the same graph node
        for sub in subs:
            node.destroy_subscription(sub)
        for pub in [*pubs.values(), *info_pubs.values()]:
            node.destroy_publisher(pub)
    return {
        n: _summary(latencies[n], published[n], duration_s, last_diag.get(n.strip("/"), {})) for n in names
    }


def bench(
    cameras: int,
    rate: float,
    width: int,
    height: int,
    duration_s: float,
    params: list[str],
    annotated: str = "both",
    also_pipeline: str | None = None,
) -> dict[str, Any]:
    """``annotated``: "no", "yes" or "both" (no subscriber first, then a node with one).
    ``also_pipeline``: then one more node with that ``io.pipeline`` and no subscriber."""
    names = [f"/cam{i}" for i in range(cameras)]
    cam_params = _camera_params(names)
    frames = _frames(width, height, 60)
    all_params: list[str | Path] = [default_params_file(), cam_params, *params]
    extra = (
        [_params_file(f"/**:\n  ros__parameters:\n    io:\n      pipeline: {also_pipeline}\n")]
        if also_pipeline
        else []
    )
    out: dict[str, Any] = {
        "cameras": cameras,
        "rate_hz": rate,
        "size": f"{width}x{height}",
        "duration_s": duration_s,
    }
    try:
        with Graph("lepton_bench_node") as graph:
            run = functools.partial(_run_node, graph, names, frames=frames, rate=rate, duration_s=duration_s)
            if annotated in ("no", "both"):
                out["per_camera"] = run(all_params, annotated_subscriber=False)
            if annotated in ("yes", "both"):
                with_sub = run(all_params, annotated_subscriber=True)
                if annotated == "yes":
                    out["per_camera"] = with_sub
                else:
                    out["with_annotated_image_subscriber"] = {"per_camera": with_sub}
            if also_pipeline:
                other = run([*all_params, *extra], annotated_subscriber=False)
                out["also_pipeline"] = {"mode": also_pipeline, "per_camera": other}
    finally:
        for path in [cam_params, *extra]:
            os.unlink(path)
    out["annotated_image_subscriber"] = annotated == "yes"  # of the top-level per_camera figures
    return out


def _print_run(title: str, per_camera: dict[str, Any]) -> None:
    print(title)
    for cam, r in per_camera.items():
        print(
            f"  {cam}: published {r['published']}, processed {r['processed']} ({r['processed_hz']} Hz), "
            f"skipped as stale {r['stale_skipped_by_node']}, latency p50 {r['latency_ms_p50']} ms, "
            f"p95 {r['latency_ms_p95']} ms, max {r['latency_ms_max']} ms, "
            f"p50 by third {r['latency_ms_p50_by_third']}"
        )
        stages = ", ".join(f"{s} {ms:.2f}" for s, ms in r["stages_ms_p50"].items())
        print(f"    cycle p50 {r['cycle_ms_p50']} ms = {stages} (ms, medians)")
        if r["outside_inference_pct"] is not None:
            print(f"    outside inference: {r['outside_inference_pct']} % of the cycle")


def run(args: argparse.Namespace) -> int:
    w, h = (int(v) for v in args.size.lower().split("x"))
    result = bench(
        args.cameras,
        args.rate,
        w,
        h,
        args.duration_s,
        args.params,
        args.annotated_subscriber,
        args.also_pipeline,
    )
    if args.json:
        print_json(result)
        return 0
    print(f"{args.cameras} cameras x {args.rate:g} Hz, {args.size}, {args.duration_s:g} s")
    if "per_camera" in result:
        sub = "with" if result["annotated_image_subscriber"] else "no"
        _print_run(f"{sub} annotated-image subscriber:", result["per_camera"])
    if "with_annotated_image_subscriber" in result:
        _print_run(
            "with an annotated-image subscriber:", result["with_annotated_image_subscriber"]["per_camera"]
        )
    if "also_pipeline" in result:
        mode = result["also_pipeline"]["mode"]
        _print_run(
            f"io.pipeline {mode}, no annotated-image subscriber:", result["also_pipeline"]["per_camera"]
        )
    return 0
