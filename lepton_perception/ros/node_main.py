"""Entry point of the perception node process: signals first, heavy imports after.

SIGINT/SIGTERM handlers are installed before rclpy, numpy or torch are imported, so a Ctrl-C or a
`kill` while the node is still starting ends it with exit code 0 and no traceback.
"""

from __future__ import annotations

import signal
import sys


class Stop(KeyboardInterrupt):
    """SIGINT/SIGTERM: unwind from wherever the main thread is (even an import) and shut down."""


def on_signal(signum: int, frame: object) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Stop(signal.Signals(signum).name)


def main(args: list[str] | None = None) -> None:
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        from lepton_perception.ros import perception_node
    except KeyboardInterrupt:
        sys.exit(0)
    perception_node.main(args)


if __name__ == "__main__":
    main()
