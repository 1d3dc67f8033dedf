"""Record topics of a live graph into a bag (a small ``ros2 bag record``)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from lepton_perception.ros.bag import BagWriter, msgtype_of
from lepton_perception.ros.conversions import time_to_ns

# Our outputs are published reliable; a reliable reader also gets every message of a reliable writer.
RECORD_QOS = QoSProfile(
    depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE
)


class BagRecorder:
    """Subscribes to ``topics`` ({topic: message class}) and writes each message at its receive time.

    ``on_message(topic, msg)`` lets the caller look at what arrives (counts, lock-step replay).
    """

    def __init__(
        self,
        node: Node,
        path: str | Path,
        topics: dict[str, Any],
        storage: str = "mcap",
        on_message: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.node = node
        self.writer = BagWriter(path, storage=storage).__enter__()
        self._lock = threading.Lock()
        self._on_message = on_message
        self.counts: dict[str, int] = dict.fromkeys(topics, 0)
        self._subs = [
            node.create_subscription(cls, topic, functools.partial(self._write, topic), RECORD_QOS)
            for topic, cls in topics.items()
        ]

    def _write(self, topic: str, msg: Any) -> None:
        t_ns = self.node.get_clock().now().nanoseconds
        header = getattr(msg, "header", None)
        if t_ns == 0 and header is not None:  # sim time before the first /clock
            t_ns = time_to_ns(header.stamp)
        with self._lock:
            self.writer.write(topic, msg, t_ns, msgtype_of(msg))
            self.counts[topic] += 1
        if self._on_message is not None:
            self._on_message(topic, msg)

    def close(self) -> None:
        for s in self._subs:
            self.node.destroy_subscription(s)
        with self._lock:
            self.writer.__exit__(None, None, None)
