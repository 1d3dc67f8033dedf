"""Bag playback into a live ROS graph (a small ``ros2 bag play`` for machines without rosbag2)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import rclpy
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from lepton_perception.ros.bag import BagMessage, bag_info, message_class, read_bag
from lepton_perception.ros.conversions import ns_to_time

log = logging.getLogger(__name__)

# Reliable publishers match both reliable and best-effort subscribers; depth covers short bursts.
PLAYER_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
FLUSH_S = 5.0  # at the end of a bag, how long to wait for subscribers to acknowledge the last messages


class BagPlayer:
    """Publishes a bag's messages on ``node`` at recorded timing scaled by ``rate``.

    ``after_publish(message)`` runs after each message; the demo uses it to wait until the
    perception node has answered a frame (lock-step replay, so no frame is dropped on a slow CPU).
    """

    def __init__(
        self,
        node: Node,
        path: str | Path,
        rate: float = 1.0,
        clock: bool = False,
        topics: Iterable[str] | None = None,
        remaps: dict[str, str] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.node, self.path, self.rate = node, Path(path), rate
        self.topics = list(topics) if topics else None
        self.remaps = remaps or {}
        self._pubs: dict[str, Any] = {}
        self._clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
        self.published = 0
        self.last_t_ns = 0  # recorded time of the last message played

    def publisher_for(self, topic: str, msgtype: str) -> Any:
        """The publisher used for bag topic ``topic`` (created on first use, remaps applied)."""
        pub = self._pubs.get(topic)
        if pub is None:
            name = self.remaps.get(topic, topic)
            pub = self._pubs[topic] = self.node.create_publisher(message_class(msgtype), name, PLAYER_QOS)
        return pub

    def wait_for_subscribers(self, timeout_s: float) -> bool:
        """Create every topic's publisher and wait (up to ``timeout_s``) until each, /clock included,
        has a subscriber, so the first messages are not published into an unmatched graph."""
        for topic, meta in bag_info(self.path)["topics"].items():
            if self.topics is None or topic in self.topics:
                self.publisher_for(topic, meta["type"])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pubs = [*self._pubs.values(), *([self._clock_pub] if self._clock_pub is not None else [])]
            if all(p.get_subscription_count() > 0 for p in pubs):
                time.sleep(0.2)  # the subscriber side of discovery settles too
                return True
            time.sleep(0.05)
        return False

    def flush(self, timeout_s: float) -> bool:
        """Wait (up to ``timeout_s``) until every subscriber acknowledged every message: a process
        that exits right after its last publish otherwise loses the reliable messages still in
        flight (the last frames, the last /clock). False (and a warning) when some were not."""
        deadline = time.monotonic() + timeout_s
        pubs = [*self._pubs.values(), *([self._clock_pub] if self._clock_pub is not None else [])]
        for pub in pubs:
            left = max(deadline - time.monotonic(), 0.0)
            if not pub.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9))):
                log.warning("%s: not every subscriber acknowledged the last messages", pub.topic_name)
                return False
        return True

    def publish_clock(self, t_ns: int) -> None:
        if self._clock_pub is not None:
            self._clock_pub.publish(Clock(clock=ns_to_time(t_ns)))

    def play_once(self, after_publish: Callable[[BagMessage], None] | None = None) -> int:
        start_wall = time.monotonic()
        t0: int | None = None
        n = 0
        for m in read_bag(self.path, self.topics):
            t0 = m.t_ns if t0 is None else t0
            delay = start_wall + (m.t_ns - t0) * 1e-9 / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.publish_clock(m.t_ns)
            self.last_t_ns = m.t_ns
            self.publisher_for(m.topic, m.msgtype).publish(m.msg)
            n += 1
            if after_publish is not None:
                after_publish(m)
        self.published += n
        return n


def play_bag(
    path: str,
    rate: float = 1.0,
    loop: bool = False,
    clock: bool = False,
    topics: Iterable[str] | None = None,
    remaps: dict[str, str] | None = None,
    wait_s: float = 2.0,
) -> dict[str, float]:
    rclpy.init()
    node = rclpy.create_node("lepton_bag_player")
    player = BagPlayer(node, path, rate, clock, topics, remaps)
    start = time.monotonic()
    try:
        player.wait_for_subscribers(wait_s)
        while True:
            player.play_once()
            if not loop:
                break
        player.flush(FLUSH_S)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return {"published": player.published, "wall_s": time.monotonic() - start}
