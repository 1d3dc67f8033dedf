"""The ``lepton`` command: front door for offline work (bags, processing, evaluation, benchmarks).

Each sub-command lives in its own module exposing ``register(subparsers)``; the module sets the
parser's ``func`` which takes the parsed args and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# command group -> modules registering sub-commands in it ("" = top level).
COMMANDS: dict[str, tuple[str, ...]] = {
    "": ("detect", "process", "demo", "export", "report"),
    "bag": ("bag",),
    "eval": ("eval_detection", "eval_tracking", "eval_geometry", "eval_prediction"),
    "bench": ("bench_detector", "bench_tracker", "bench_predictor", "bench_node"),
    "train": ("train_predictor",),
}
GROUP_HELP = {
    "bag": "make, inspect and play ROS 2 bags",
    "eval": "accuracy evaluations on the shared data sets",
    "bench": "speed benchmarks",
    "train": "train models",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lepton", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    top = parser.add_subparsers(dest="command", required=True)
    for group, modules in COMMANDS.items():
        sub = top
        if group:
            if not modules:
                continue
            g = top.add_parser(group, help=GROUP_HELP[group])
            sub = g.add_subparsers(dest="subcommand", required=True)
        for name in modules:
            importlib.import_module(f"lepton_perception.tools.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
