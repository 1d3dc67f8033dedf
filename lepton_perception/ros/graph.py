"""One harness for every live graph run: ``lepton demo``, ``lepton bench node`` and the graph tests.

``with Graph("lepton_demo") as g, g.perception(params) as proc:`` joins a fresh ROS domain (unless
given one), spins an rclpy node of our own in a thread, and starts the perception node in its own
process exactly as the launch file does (``NodeProcess``). ``g.wait`` polls a condition and fails
with the node's log path as soon as the node process has died.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from lepton_perception.ros.node_process import NodeProcess, ros_env


class Graph:
    def __init__(self, name: str, domain_id: int | None = None, spin: bool = True) -> None:
        self.domain_id = domain_id if domain_id is not None else random.randint(1, 100)
        self.name = name
        self._spin = spin
        self.node: Node
        self.executor: SingleThreadedExecutor
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Graph:
        os.environ.update(ros_env(self.domain_id))  # our own rclpy context joins the node's graph
        rclpy.init()
        self.node = rclpy.create_node(self.name)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        if self._spin:
            self._thread = threading.Thread(target=self.executor.spin, daemon=True)
            self._thread.start()
        return self

    def perception(
        self,
        params: list[str | Path],
        namespace: str = "/perception",
        log_path: str | Path | None = None,
        **kwargs: object,
    ) -> NodeProcess:
        """The perception node as its own process in this graph's domain (a context manager)."""
        return NodeProcess(params, namespace, domain_id=self.domain_id, log_path=log_path, **kwargs)  # type: ignore[arg-type]

    def wait(self, done: Callable[[], bool], timeout_s: float, proc: NodeProcess | None = None) -> None:
        """Poll ``done`` (spinning our node when no thread does); RuntimeError on timeout or node death."""
        deadline = time.monotonic() + timeout_s
        while not done():
            if proc is not None and not proc.alive():
                raise RuntimeError(
                    f"perception node exited (code {proc.proc and proc.proc.returncode}); see {proc.log_path}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"timed out after {timeout_s:g} s; see {proc.log_path if proc else 'the log'}"
                )
            if self._thread is None:
                self.executor.spin_once(timeout_sec=0.05)
            else:
                time.sleep(0.05)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.executor.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown()
