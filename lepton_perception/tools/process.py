"""``lepton process``: the full pipeline offline, as fast as possible, no ROS graph.

One recording: ``lepton process INPUT --out OUT_BAG``. INPUT is a bag (images + camera_info of the
configured cameras) or a video file (one camera). The outputs are the node's messages, through the same
``PerceptionRunner``, written to a new bag stamped with the source image times, so ``ros2 bag play``
and RViz can use it.

Many recordings: ``lepton process INPUT... --out-dir RUN_DIR`` (paths, globs, ``@list.txt``): one folder
per recording with the bag and Parquet tables, a manifest, resumable, locally parallel or on Ray
(``lepton_perception.fleet``; docs/fleet.md).

Nothing but our own previous output is ever replaced (``--overwrite``), outputs are staged next to
their destination and renamed into place, and user errors are one line with exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lepton_perception.fleet.safety import (
    NOT_OURS,
    OURS_NEEDS_OVERWRITE,
    UserError,
    check_disjoint,
    check_replaceable,
    check_writable_parent,
    commit,
    is_within,
    read_marker,
    remove_ours,
    staging_dir,
    staging_path,
    write_marker,
)
from lepton_perception.fleet.stop import check as check_stop
from lepton_perception.tools.common import print_json

log = logging.getLogger(__name__)
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "process",
        help="run the whole pipeline offline on bags or videos; outputs to a bag (or a run directory)",
    )
    p.add_argument("inputs", nargs="*", help="bag directories or video files; globs; @list.txt of paths")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", default=None, help="one input: output bag directory (must not exist)")
    out.add_argument("--out-dir", default=None, help="any number of inputs: run directory (resumable)")
    p.add_argument("--inputs-from", action="append", default=[], help="text file with one input per line")
    p.add_argument("--overwrite", action="store_true", help="replace our own previous output (or redo a run)")
    p.add_argument("--params", nargs="*", default=[], help="params files applied over config/perception.yaml")
    p.add_argument("--namespace", default="/perception", help="node namespace for output topic names")
    p.add_argument("--video-out", default=None, help="one input: also write the annotated video (.mp4)")
    p.add_argument("--fps", type=float, default=None, help="video input: stamp rate (default: container)")
    p.add_argument("--hfov-deg", type=float, default=60.0, help="video input: horizontal FOV for CameraInfo")
    p.add_argument("--max-frames", type=int, default=0)
    p.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    p.add_argument("--jobs", type=int, default=0, help="--out-dir: parallel workers (0: one per core)")
    p.add_argument("--threads", type=int, default=0, help="--out-dir: CPU threads per worker (0: cores/jobs)")
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="--out-dir on Ray: no ADDRESS starts a local instance; 'auto' or ray://host:port joins one",
    )
    p.add_argument(
        "--gpus-per-task", type=float, default=None, help="Ray: GPUs per recording (default: auto)"
    )
    p.add_argument("--hash", choices=["full", "sampled"], default="full", help="input content hash")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Options:
    """How a recording is read and written (beside the node config, part of the output key)."""

    namespace: str = "/perception"
    fps: float | None = None
    hfov_deg: float = 60.0
    max_frames: int = 0
    storage: str = "mcap"


def load_config(params: list[str]) -> Any:
    from lepton_perception.ros.params import config_from_values, default_params_file, load_yaml_values

    values: dict[str, Any] = {}
    for f in [str(default_params_file()), *params]:
        try:
            values.update(load_yaml_values(f))
        except OSError as exc:
            raise UserError(f"cannot read params file {f}: {exc.strerror or exc}") from None
    try:
        return config_from_values(values)
    except (ValueError, TypeError, KeyError) as exc:
        raise ParamsError(str(exc).split("; ")) from None


class ParamsError(UserError):
    """Parameter problems, reported as the node reports them: one ``invalid parameter: ...`` line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.lines = [f"invalid parameter: {p}" for p in problems]


# --- reading a recording ---------------------------------------------------------------------------
def _suffix(config: Any) -> str:
    return "/image_raw/compressed" if config.io.image_transport == "compressed" else "/image_raw"


def _no_frames(path: Path, expected: list[str], present: dict[str, str]) -> UserError:
    found = ", ".join(f"{t} ({ty})" for t, ty in sorted(present.items())) or "none"
    return UserError(
        f"no frames found in {path}: expected image topic(s) {', '.join(expected)}; topics present: {found}"
    )


def _bag_messages(path: Path, config: Any, cams: dict[str, str]) -> tuple[Iterator[tuple[str, Any]], int]:
    from lepton_perception.ros.bag import bag_info, read_bag

    try:
        info = bag_info(path)
    except Exception as exc:  # rosbags raises several types for damaged metadata or storage
        raise UserError(f"cannot read bag {path}: {_one_line(exc)}") from None
    if info["messages"] == 0:
        raise UserError(f"bag {path} is empty (no messages)")
    expected = [ns + _suffix(config) for ns in cams]
    total = sum(info["topics"].get(t, {}).get("count", 0) for t in expected)
    if total == 0:
        raise _no_frames(path, expected, {t: v["type"] for t, v in info["topics"].items()})

    def messages() -> Iterator[tuple[str, Any]]:
        try:
            for m in read_bag(path):
                yield m.topic, m.msg
        except Exception as exc:  # truncated chunk, bad CDR: the recording is corrupt
            raise UserError(f"cannot read bag {path}: {_one_line(exc)}") from None

    return messages(), total


def _video_messages(
    path: Path, config: Any, cams: dict[str, str], options: Options
) -> tuple[Iterator[tuple[str, Any]], int]:
    import cv2

    from lepton_perception.tools.bag import video_messages

    if len(cams) != 1:
        raise UserError("a video is one camera; configure exactly one camera in io.cameras")
    cap = cv2.VideoCapture(str(path))
    ok = cap.isOpened()
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if ok else 0
    cap.release()
    if not ok:
        raise UserError(f"cannot read {path}: neither a ROS 2 bag directory nor a video OpenCV can open")
    video = video_messages(str(path), options.fps, namespace=next(iter(cams)), hfov_deg=options.hfov_deg)
    return ((topic, msg) for topic, _, msg in video), max(total, 0)


def open_recording(
    path: Path, config: Any, cams: dict[str, str], options: Options
) -> tuple[Iterator[tuple[str, Any]], int]:
    """``(topic, message)`` in recorded order and the expected image count; ``UserError`` if unusable."""
    from lepton_perception.fleet.inputs import kind_of

    if kind_of(path) == "bag":
        messages, total = _bag_messages(path, config, cams)
    else:
        messages, total = _video_messages(path, config, cams, options)
    if options.max_frames:
        total = min(total or options.max_frames, options.max_frames)
    return messages, total


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# --- one recording through the runner --------------------------------------------------------------
_DETECTORS: dict[str, Any] = {}  # per process: the loaded detector, by its config


def make_runner(config: Any) -> Any:
    """A fresh runner (new trackers, new predictor: no state from another recording) over this
    process's detector, loaded once per process and configuration (the detector holds no per-recording
    state; loading it is the expensive part)."""
    from lepton_perception.ros.runner import PerceptionRunner

    key = json.dumps(dataclasses.asdict(config.detector), sort_keys=True, default=str)
    if key in _DETECTORS:
        return PerceptionRunner(config, detector=_DETECTORS[key])
    runner = PerceptionRunner(config)
    _DETECTORS[key] = runner.detector
    return runner


class _VideoSink:
    """The annotated video, opened on the first frame (its size); refuses to fail silently."""

    def __init__(self, path: Path | None, fps: float) -> None:
        self.path, self.fps = path, fps
        self.writer: Any = None

    def write(self, msg: Any) -> None:
        import cv2

        from lepton_perception.ros import conversions as conv

        if self.path is None:
            return
        img = conv.image_msg_to_bgr(msg)
        if self.writer is None:
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (img.shape[1], img.shape[0]))
            if not self.writer.isOpened():
                raise UserError(f"cannot write --video-out {self.path}: OpenCV could not open a video writer")
        self.writer.write(img)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


@dataclass
class _Stats:
    frames: int = 0
    detections: int = 0
    stage_ms: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    track_ids: set[tuple[str, int]] = dataclasses.field(default_factory=set)
    frame_index: dict[str, int] = dataclasses.field(default_factory=dict)


def _uuid_fn(key: str, epoch_ns: int) -> Callable[[int], str]:
    from lepton_perception.ros import conversions as conv

    return lambda tid: str(uuid.UUID(bytes=bytes(conv.track_uuid(key, epoch_ns, tid).uuid)))


def _record_output(runner: Any, output: Any, msg: Any, ctx: dict[str, Any], stats: _Stats) -> None:
    from lepton_perception.fleet.tables import FrameIds
    from lepton_perception.ros import conversions as conv

    key, ns, writer, tables, video = ctx["key"], ctx["ns"], ctx["writer"], ctx["tables"], ctx["video"]
    t_ns = conv.time_to_ns(msg.header.stamp)
    for topic, out_msg in output.messages.items():
        writer.write(f"{ns}/{topic.name(key)}", out_msg, t_ns)
    res = output.result
    stats.detections += len(res.detections)
    stats.track_ids.update((key, t.track_id) for t in res.tracks if t.state.name in ("CONFIRMED", "COASTING"))
    for stage, ms in res.timings_ms.items():
        stats.stage_ms.setdefault(stage, []).append(ms)
    index = stats.frame_index.get(key, 0)
    stats.frame_index[key] = index + 1
    if tables is not None:
        cam = runner.cameras[key]
        ids = FrameIds(ctx["recording"], key, index, t_ns, runner.world.frame_id, msg.header.frame_id)
        tables.add(ids, res, _uuid_fn(key, cam.epoch_ns))
    if output.messages.annotated_image is not None:
        video.write(output.messages.annotated_image)


# --- world frame: the node's odometry subscription and fused list, offline (docs/world.md) -----------
def _feed_world(runner: Any, topic: str, msg: Any) -> bool:
    """Odometry on the configured topic goes to the runner's ego poses and /tf_static to its camera
    extrinsics, as the node's subscriptions do; True when ``msg`` was one of them."""
    from nav_msgs.msg import Odometry

    from lepton_perception.ros.topics import TF_STATIC_TOPIC

    if isinstance(msg, Odometry) and topic == runner.config.world.odometry_topic:
        runner.add_odometry(msg)
        return True
    if topic == TF_STATIC_TOPIC and type(msg).__name__ == "TFMessage":
        runner.add_tf_static(msg)
        return True
    return False


def _write_fused(runner: Any, outputs: list[Any], ctx: dict[str, Any], t_ns: int) -> None:
    """The fused list (``objects``, ``tracked_objects``, its markers), as the node publishes it."""
    fused = runner.fuse(outputs)
    if fused is None or fused.messages is None:
        return
    for out_topic, out_msg in fused.messages.items():
        ctx["writer"].write(f"{ctx['ns']}/{out_topic.name(fused.key)}", out_msg, t_ns)


def _drive(
    runner: Any,
    messages: Iterator[tuple[str, Any]],
    ctx: dict[str, Any],
    options: Options,
    on_frame: Callable[[], None],
) -> _Stats:
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image

    cams = {cam.namespace.rstrip("/"): key for key, cam in runner.cameras.items()}
    suffix = _suffix(runner.config)
    stats = _Stats()
    for topic, msg in messages:
        check_stop()
        if _feed_world(runner, topic, msg):
            continue
        key = cams.get(topic.rsplit("/", 2 if topic.endswith("/compressed") else 1)[0])
        if key is None:
            continue
        if isinstance(msg, CameraInfo):
            runner.set_camera_info(key, msg)
            continue
        if not isinstance(msg, Image | CompressedImage) or not topic.endswith(suffix):
            continue
        if options.max_frames and stats.frames >= options.max_frames:
            break
        stats.frames += 1
        on_frame()
        outputs = runner.process([(key, msg)])
        for output in outputs:
            if output.result is not None and output.messages is not None:
                _record_output(runner, output, msg, {**ctx, "key": key}, stats)
        _write_fused(runner, outputs, ctx, msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)
    return stats


def process_into(
    runner: Any,
    input_path: Path,
    staged_bag: Path,
    options: Options,
    tables: Any = None,
    video_out: Path | None = None,
    on_frame: Callable[[], None] = lambda: None,
    recording: str = "",
    on_start: Callable[[int], None] = lambda total: None,
) -> dict[str, Any]:
    """One recording through ``runner`` into a new bag at ``staged_bag`` (and tables, video)."""
    from lepton_perception.ros.bag import BagWriter

    config = runner.config
    cams = {cam.namespace.rstrip("/"): key for key, cam in runner.cameras.items()}
    messages, total = open_recording(input_path, config, cams, options)
    on_start(total)
    video = _VideoSink(video_out, options.fps or 10.0)
    t0 = time.perf_counter()
    try:
        with BagWriter(staged_bag, storage=options.storage) as writer:
            ctx = {"ns": options.namespace.rstrip("/"), "writer": writer, "tables": tables, "video": video}
            stats = _drive(runner, messages, {**ctx, "recording": recording}, options, on_frame)
    finally:
        video.close()
    if stats.frames == 0:
        raise _zero_frames(input_path, [ns + _suffix(config) for ns in cams])
    wall = time.perf_counter() - t0
    return _summary(runner, stats, wall)


def _zero_frames(path: Path, expected: list[str]) -> UserError:
    if not path.is_dir():
        return UserError(f"cannot read {path}: no decodable video frames")
    from lepton_perception.ros.bag import bag_info

    return _no_frames(path, expected, {t: v["type"] for t, v in bag_info(path)["topics"].items()})


def _summary(runner: Any, stats: _Stats, wall: float) -> dict[str, Any]:
    counters: dict[str, int] = {}
    for snap in runner.diagnostics().cameras.values():
        for k, v in snap.totals.items():
            counters[k] = counters.get(k, 0) + v
    return {
        "frames": stats.frames,
        "detections": stats.detections,
        "confirmed_tracks": len(stats.track_ids),
        "stage_ms_mean": {k: round(float(np.mean(v)), 3) for k, v in stats.stage_ms.items()},
        "fps": round(stats.frames / wall, 2) if wall > 0 else 0.0,
        "wall_s": round(wall, 3),
        "counters": counters,
        "detector": f"{runner.detector.name}/{runner.detector.device}",
    }


# --- one recording, one output bag (the safe single-input path) -------------------------------------
def _check_video_out(video_out: Path, input_path: Path, out: Path, overwrite: bool) -> None:
    check_disjoint(video_out, [input_path], "--video-out")
    if is_within(video_out, out):
        raise UserError(f"--video-out {video_out} is inside --out {out}; choose another path")
    if video_out.exists() or video_out.is_symlink():
        marker = read_marker(out) if out.is_dir() else None
        ours = marker is not None and marker.get("video_out") == str(video_out.resolve())
        if not ours:
            raise UserError(NOT_OURS.format(what="--video-out", path=video_out))
        if not overwrite:
            raise UserError(OURS_NEEDS_OVERWRITE.format(what="--video-out", path=video_out))
    check_writable_parent(video_out, "--video-out")


def process(
    config: Any,
    input_path: str,
    out: str,
    namespace: str = "/perception",
    video_out: str | None = None,
    fps: float | None = None,
    hfov_deg: float = 60.0,
    max_frames: int = 0,
    storage: str = "mcap",
    overwrite: bool = False,
) -> dict[str, Any]:
    """One recording -> a new bag at ``out``; raises ``UserError`` for anything the user can fix."""
    from lepton_perception.fleet.inputs import kind_of, recording_path

    src = recording_path(Path(input_path))
    kind_of(src)
    dest = Path(out)
    check_disjoint(dest, [src])
    check_replaceable(dest, overwrite)
    check_writable_parent(dest)
    video_dest = Path(video_out) if video_out else None
    if video_dest is not None:
        _check_video_out(video_dest, src, dest, overwrite)
    options = Options(namespace, fps, hfov_deg, max_frames, storage)
    work = staging_dir(dest)
    staged = work / dest.name
    staged_video = staging_path(video_dest) if video_dest is not None else None
    try:
        runner = make_runner(config)
        bar = _FrameBar(src)
        try:
            summary = process_into(
                runner, src, staged, options, video_out=staged_video, on_frame=bar.tick, on_start=bar.start
            )
        finally:
            bar.close()
        write_marker(
            staged,
            {"input": str(src.resolve()), "video_out": str(video_dest.resolve()) if video_dest else None},
        )
        if staged_video is not None and video_dest is not None:
            commit(staged_video, video_dest)
        commit(staged, dest)
    except BaseException:
        if staged_video is not None:
            remove_ours(staged_video)
        raise
    finally:
        remove_ours(work)
    return {**summary, "output_bag": str(dest), "video_out": str(video_dest) if video_dest else None}


class _FrameBar:
    """A frame progress bar opened once the recording is known to be readable (errors stay one line)."""

    def __init__(self, src: Path) -> None:
        self.src = src
        self.bar: Any = None

    def start(self, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total or None, desc=f"process {self.src.name}", unit="frame", leave=False)

    def tick(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --- command line ------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    from lepton_perception.fleet.stop import stop_requests

    try:
        with stop_requests():  # Ctrl-C and SIGTERM stop at the next frame (fleet/stop.py)
            return _run(args)
    except ParamsError as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        return EXIT_USER_ERROR
    except UserError as exc:
        print(f"lepton process: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("lepton process: interrupted; unfinished outputs removed, finished ones kept", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    if args.out_dir is not None:
        from lepton_perception.tools.process_fleet import run_fleet_cli

        return run_fleet_cli(args)
    if len(args.inputs) != 1 or args.inputs_from or args.inputs[0].startswith("@"):
        raise UserError("--out takes exactly one input; use --out-dir for several")
    if args.ray is not None:
        raise UserError("--ray needs --out-dir")
    config = load_config(args.params)
    summary = process(
        config,
        args.inputs[0],
        args.out,
        args.namespace,
        args.video_out,
        args.fps,
        args.hfov_deg,
        args.max_frames,
        args.storage,
        args.overwrite,
    )
    if args.json:
        print_json(summary)
    else:
        print(json.dumps(summary, indent=2))
    return 0
