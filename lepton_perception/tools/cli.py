"""The ``lepton`` command: front door for offline work (bags, processing, evaluation, benchmarks).

Each sub-command lives in its own module exposing ``register(subparsers)``; the module sets the
parser's ``func`` which takes the parsed args and returns an exit code. Modules are imported only when
their command runs: ``lepton --help`` and the commands without ROS start fast (no torch, no rclpy)
and work without the ROS environment sourced.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from dataclasses import dataclass

from lepton_perception.core.detection.base import DeviceUnavailableError, ModelLoadError


@dataclass(frozen=True)
class Command:
    group: str  # "" = top level
    name: str
    module: str  # lepton_perception.tools.<module>
    help: str
    needs_ros: bool = False  # imports rclpy / message packages


COMMANDS: tuple[Command, ...] = (
    Command("", "detect", "detect", "detect objects in image files"),
    Command("", "process", "process", "run the whole pipeline offline on a bag or video", True),
    Command("", "demo", "demo", "main job: PETS 2009 video -> bag -> live ROS graph -> outputs", True),
    Command("", "export", "export", "export the torch detector to TorchScript or ONNX"),
    Command("", "quantize", "quantize", "build (or find in the cache) the int8 detector model"),
    Command("", "report", "report", "markdown report with plots over a lepton process --out-dir run"),
    Command("", "soak", "soak", "memory soak: many frames through the live node, RSS growth", True),
    Command("bag", "from-video", "bag", "turn a video into a bag of Image + CameraInfo", True),
    Command("bag", "info", "bag", "topics, types, counts and duration of a bag", True),
    Command("bag", "play", "bag", "publish a bag into the ROS graph", True),
    Command("eval", "detection", "eval_detection", "person precision/recall on hand-checked PETS frames"),
    Command("eval", "tracking", "eval_tracking", "our tracker vs peers on KITTI and MOT15"),
    Command("eval", "scores", "eval_scores", "precision per detection-score band, detections and tracks"),
    Command("eval", "geometry", "eval_geometry", "monocular ground-plane error on KITTI 3D labels"),
    Command("eval", "prediction", "eval_prediction", "ADE/FDE on ETH/UCY vs baselines"),
    Command("eval", "world", "eval_world", "world-frame tracking, fusion and prediction on a driving scene"),
    Command("bench", "detector", "bench_detector", "detector latency and throughput per backend and batch"),
    Command("bench", "tracker", "bench_tracker", "tracker step time for N moving objects"),
    Command("bench", "predictor", "bench_predictor", "batch latency of the trajectory predictor"),
    Command("bench", "report", "bench_report", "run the benchmarks and write docs/benchmarks.md with plots"),
    Command("bench", "node", "bench_node", "multi-camera throughput/latency of the live node", True),
    Command("train", "predictor", "train_predictor", "train the GRU trajectory predictor on ETH/UCY"),
)
GROUP_HELP = {
    "bag": "make, inspect and play ROS 2 bags",
    "eval": "accuracy evaluations on the shared data sets",
    "bench": "speed benchmarks",
    "train": "train models",
}
ROS_HINT = (
    "this command needs ROS 2 (rclpy and the interface packages): run `source scripts/env.sh` "
    "in the repository (or source your ROS 2 Jazzy setup and workspace overlay) first"
)


def _parser(chosen: Command | None) -> argparse.ArgumentParser:
    """The full parser; only ``chosen``'s module is imported, every other command is a stub."""
    parser = argparse.ArgumentParser(prog="lepton", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    top = parser.add_subparsers(dest="command", required=True)
    groups: dict[str, argparse._SubParsersAction] = {"": top}
    for cmd in COMMANDS:
        if cmd.group not in groups:
            g = top.add_parser(cmd.group, help=GROUP_HELP[cmd.group])
            groups[cmd.group] = g.add_subparsers(dest="subcommand", required=True)
        sub = groups[cmd.group]
        if chosen is not None and cmd == chosen:
            importlib.import_module(f"lepton_perception.tools.{cmd.module}").register(_Only(sub, cmd.name))
        elif cmd.name not in sub.choices:
            sub.add_parser(cmd.name, help=cmd.help)
    return parser


class _Only:
    """Passes only the chosen command's ``add_parser`` through (a module may register several)."""

    def __init__(self, sub: argparse._SubParsersAction, name: str) -> None:
        self._sub, self._name = sub, name

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser:
        if name == self._name:
            return self._sub.add_parser(name, **kwargs)  # type: ignore[arg-type]
        return argparse.ArgumentParser(prog=name)  # another command of the module: not this run


def _chosen(argv: list[str]) -> Command | None:
    words = [a for a in argv if not a.startswith("-")]
    for cmd in COMMANDS:
        want = [cmd.group, cmd.name] if cmd.group else [cmd.name]
        if words[: len(want)] == want:
            return cmd
    return None


def ros_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("rclpy", "vision_msgs"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = _chosen(argv)
    if chosen is not None and chosen.needs_ros and not ros_available():
        print(f"lepton {chosen.group} {chosen.name}: {ROS_HINT}".replace("  ", " "), file=sys.stderr)
        return 2
    args = _parser(chosen).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.func(args)
    except (ModelLoadError, DeviceUnavailableError) as exc:
        # What a user asked for cannot run here (a bad model file, no GPU): one clear line, no trace.
        logging.getLogger("lepton").error("%s", exc)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
