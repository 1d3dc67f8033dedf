"""The perception node: subscriptions, QoS, keep-latest frame slots, publishers. No perception logic.

Callbacks only store the newest message per camera; one worker thread takes whatever is pending
across cameras, hands it to ``PerceptionRunner`` as one detector batch, and publishes what comes back.
When the node pipelines (``io.pipeline``; ``auto``: when the detector leaves a CPU core free) the
worker only decodes and detects, and an output thread tracks, fuses and publishes: the next batch goes
through the detector while the previous one is tracked, as a separate detector and tracker node would
overlap, within one process and one set of stamps.
All state and counters belong to the runner; the node reads its health through ``runner.health()``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from lepton_perception.core.detection import ModelLoadError
from lepton_perception.core.health import Value
from lepton_perception.core.prediction.weights import WeightsError
from lepton_perception.ros.diagnostics import diagnostic_array
from lepton_perception.ros.extrinsics import TFMessage
from lepton_perception.ros.node_main import on_signal
from lepton_perception.ros.params import (
    NODE_NAME,
    IoConfig,
    NodeConfig,
    ParamSpec,
    check_values,
    config_from_values,
    other_pose_keys,
    specs_for,
)
from lepton_perception.ros.runner import OPTIONAL_OUTPUTS, CameraOutput, DetectedInputs, PerceptionRunner
from lepton_perception.ros.topics import (
    DIAGNOSTICS_QOS,
    DIAGNOSTICS_TOPIC,
    ODOMETRY_QOS,
    OUTPUT_TOPICS,
    TF_STATIC_QOS,
    TF_STATIC_TOPIC,
    TOPIC_BY_FIELD,
    image_qos,
    input_topics,
)

log = logging.getLogger(__name__)
# Parameters every rclpy node may get from a params file or the command line; not ours to check.
ROS_PARAMETERS = ("use_sim_time", "start_type_description_service")


class ParameterFileError(ValueError):
    """Unknown names or wrong types in the parameters given at start-up (one line per problem)."""


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    d = ParameterDescriptor(name=spec.name, description=spec.description, read_only=not spec.live)
    if spec.choices:
        d.additional_constraints = "one of: " + ", ".join(spec.choices)
    finite = spec.range is not None and all(abs(v) < 1e300 for v in spec.range)
    if finite and spec.range is not None and spec.kind == "double":
        d.floating_point_range = [FloatingPointRange(from_value=spec.range[0], to_value=spec.range[1])]
    elif finite and spec.range is not None and spec.kind == "integer":
        d.integer_range = [IntegerRange(from_value=int(spec.range[0]), to_value=int(spec.range[1]), step=0)]
    return d


class RosLogHandler(logging.Handler):
    """Python ``logging`` records (the core modules use it) -> this node's ROS logger (/rosout)."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self._logger = node.get_logger()

    def emit(self, record: logging.LogRecord) -> None:
        text = f"[{record.name}] {record.getMessage()}"
        if record.levelno >= logging.ERROR:
            self._logger.error(text)
        elif record.levelno >= logging.WARNING:
            self._logger.warning(text)
        elif record.levelno >= logging.INFO:
            self._logger.info(text)
        else:
            self._logger.debug(text)


def route_python_logging(node: Node) -> None:
    """Send every Python log record through the node's ROS logger, at the level ``--log-level`` set."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(RosLogHandler(node))
    ros_level = node.get_logger().get_effective_level()
    # rcutils severities are 10/20/30/40/50 like Python's (DEBUG..FATAL); UNSET (0) means INFO.
    root.setLevel(int(ros_level) or logging.INFO)


def pipelines(mode: str, device: str, cpu_threads: int, cores: int) -> bool:
    """Whether detection and output get a thread each (``io.pipeline``). Overlapping them pays only
    when the detector leaves a core to the output thread (a GPU detector, or fewer CPU threads than
    cores; ``cpu_threads`` 0 is the runtime's default of one per core): on two cores that a two-thread
    CPU detector already fills, the overlap measured slower (docs/ros.md)."""
    if mode != "auto":
        return mode == "always"
    return not device.startswith("cpu") or 0 < cpu_threads < cores


@dataclass
class _Handover:
    """A detected batch on its way to tracking and publishing."""

    detected: DetectedInputs
    received: dict[str, float]  # time.monotonic() each camera's frame arrived (latency starts there)
    detect_ms: float  # the worker's decode + detector time for the batch


class PerceptionNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        route_python_logging(self)
        values = self._declare_parameters()
        config = config_from_values(values)  # raises ValueError naming the offending parameter
        self.runner = PerceptionRunner(config)
        self.get_logger().info(
            f"detector {self.runner.detector.name} on {self.runner.detector.device}; "
            f"cameras {list(config.io.cameras)}; positions in {config.io.target_frame}"
        )
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._lock = threading.Condition()
        self._pending: dict[str, Image | CompressedImage] = {}
        self._received_wall: dict[str, float] = {}
        self._qos_incompatible = 0
        self._worker_errors = 0
        self._make_pubs_and_subs(config.io)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS)
        self.create_timer(config.io.diagnostics_period_s, self._publish_diagnostics)
        self._running = True
        # Pipelined: the batch the worker has detected and the output thread has not taken yet.
        self._handover: _Handover | None = None
        self._output_stop = False
        self._worker = threading.Thread(target=self._work, name="lepton_worker", daemon=True)
        self._output: threading.Thread | None = None
        if self._pipelined(config):
            self._output = threading.Thread(target=self._output_work, name="lepton_output", daemon=True)
            self._output.start()
        self._worker.start()

    def _pipelined(self, config: NodeConfig) -> bool:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        device, threads = str(self.runner.detector.device), config.detector.cpu_threads
        pipelined = pipelines(config.io.pipeline, device, threads, cores)
        self.get_logger().info(
            f"io.pipeline {config.io.pipeline}: "
            + ("detector and output threads overlap" if pipelined else "one worker thread")
            + f" (detector on {device}, {threads or 'default'} threads, {cores} cores)"
        )
        return pipelined

    # --- parameters -------------------------------------------------------------------------------
    def _declare_parameters(self) -> dict[str, Any]:
        """Check the start-up values (params files, -p) against the schema, then declare everything."""
        given = {name: p.value for name, p in self._parameter_overrides.items() if name not in ROS_PARAMETERS}
        given = {n: v for n, v in given.items() if not n.startswith("qos_overrides.")}
        if problems := check_values(given):
            raise ParameterFileError("\n".join(problems))
        cameras = tuple(given.get("io.cameras", IoConfig().cameras))
        if unused := other_pose_keys(given, cameras):
            self.get_logger().info(
                f"camera_poses for {', '.join(unused)} unused: not in io.cameras {list(cameras)}"
            )
        self._specs = {s.name: s for s in specs_for(cameras)}
        return {
            s.name: self.declare_parameter(s.name, s.default, _descriptor(s)).value
            for s in self._specs.values()
        }

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        values = {s.name: self.get_parameter(s.name).value for s in self._specs.values()}
        for p in params:
            spec = self._specs.get(p.name)
            if spec is None:
                if p.name in ROS_PARAMETERS:
                    continue
                return SetParametersResult(successful=False, reason=f"unknown parameter {p.name}")
            if not spec.live:
                return SetParametersResult(successful=False, reason=f"{p.name} cannot change while running")
            values[p.name] = p.value
        try:
            config = config_from_values(values)  # the schema's types and ranges, then the dataclasses'
        except (ValueError, TypeError) as exc:
            self.get_logger().warning(f"parameter change refused: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        self.runner.apply_config(config)
        return SetParametersResult(successful=True)

    # --- graph ----------------------------------------------------------------------------------------
    def _make_pubs_and_subs(self, io: IoConfig) -> None:
        self._pubs: dict[str, Any] = {}  # topic name (relative) -> publisher
        for key, cam in self.runner.cameras.items():
            image_topic, image_type, info_topic = input_topics(cam.namespace, io.image_transport)
            events = SubscriptionEventCallbacks(
                incompatible_qos=functools.partial(self._on_incompatible_qos, topic=image_topic)
            )
            self.create_subscription(
                image_type,
                image_topic,
                functools.partial(self._on_image, key),
                image_qos(io.image_reliability),
                event_callbacks=events,
            )
            self.create_subscription(
                CameraInfo, info_topic, functools.partial(self._on_camera_info, key), qos_profile_sensor_data
            )
        keys = list(self.runner.cameras)
        for topic in OUTPUT_TOPICS:
            if (topic.field == "annotated_image" and not io.publish_annotated_image) or (
                topic.field == "markers" and not io.publish_markers
            ):
                continue
            for key in keys if topic.per_camera else [""]:
                name = topic.name(key)
                self._pubs[name] = self.create_publisher(topic.msg_type, name, topic.qos)
        # Ego poses: tracks, fused objects and predictions live in the odometry's fixed frame.
        odom_topic = self.runner.config.world.odometry_topic
        self.create_subscription(Odometry, odom_topic, self.runner.add_odometry, ODOMETRY_QOS)
        self.get_logger().info(f"odometry on {odom_topic}")
        self._subscribe_tf_static()

    def _subscribe_tf_static(self) -> None:
        """Camera mounts from /tf_static (latched, as robot_state_publisher publishes them); each
        camera uses its parameters until (and unless) its frame_id connects to the vehicle frame."""
        if TFMessage is None:
            self.get_logger().warning(
                "tf2_msgs not importable (rebuild the interface overlay: scripts/build_msgs.sh): "
                "camera extrinsics from parameters (camera_poses.*) only"
            )
            return
        self.create_subscription(TFMessage, TF_STATIC_TOPIC, self.runner.add_tf_static, TF_STATIC_QOS)
        self.get_logger().info(
            f"camera extrinsics from {TF_STATIC_TOPIC} where it has a camera's frame_id, else parameters "
            "(camera_poses.*); each camera's source is logged and in its diagnostics (extrinsics)"
        )

    # --- callbacks: store only --------------------------------------------------------------------
    def _on_image(self, key: str, msg: Image | CompressedImage) -> None:
        with self._lock:
            if key in self._pending:
                # Keep only the newest frame: the older one would only add latency.
                self.runner.count(key, "stale_skipped")
            self._pending[key] = msg
            self._received_wall[key] = time.monotonic()
            self._lock.notify_all()

    def _on_camera_info(self, key: str, msg: CameraInfo) -> None:
        self.runner.set_camera_info(key, msg)
        with self._lock:
            self._lock.notify_all()

    def _on_incompatible_qos(self, event: Any, topic: str) -> None:
        self._qos_incompatible += 1
        kind = getattr(event, "last_policy_kind", None)
        policy = getattr(kind, "name", str(kind)).replace("RMW_QOS_POLICY_", "")
        self.get_logger().warning(
            f"incompatible QoS on {topic}: a publisher cannot be matched (policy {policy}); set "
            f"io.image_reliability to match the camera driver (best_effort subscribes to both)"
        )

    # --- worker: convert -> runner -> publish ------------------------------------------------------
    def _work(self) -> None:
        while (taken := self._take_batch()) is not None:
            try:
                self._detect(*taken)
            except Exception as exc:  # the runner catches per-frame failures; this is the last net
                self._worker_failed(exc)

    def _take_batch(self) -> tuple[list[tuple[str, Image | CompressedImage]], dict[str, float]] | None:
        """Wait for frames to process (and, pipelined, for the output thread to have taken the previous
        batch: frames are taken as late as possible, so none waits behind a batch); None to stop."""
        with self._lock:
            while self._running:
                if self._handover is None and (ready := self._ready_frames()):
                    return [(key, self._pending.pop(key)) for key in ready], dict(self._received_wall)
                idle = self._handover is None  # waiting on the output thread is not idle
                self._lock.wait(0.05 if self._pending else 0.5)
                if idle:
                    self.runner.beat()
            return None

    def _detect(self, batch: list[tuple[str, Image | CompressedImage]], received: dict[str, float]) -> None:
        """Detect a batch; then finish it here, or hand it to the output thread (pipelined)."""
        t0 = time.perf_counter()
        detected = self.runner.detect(batch)
        done = _Handover(detected, received, (time.perf_counter() - t0) * 1e3)
        if self._output is None:
            self._finish(done, pipelined=False)
            return
        with self._lock:
            self._handover = done
            self._lock.notify_all()

    def _output_work(self) -> None:
        """Pipelined: finish and publish each detected batch; stops once the worker has stopped and
        the last batch it detected is out."""
        while True:
            with self._lock:
                while self._handover is None and not self._output_stop:
                    self._lock.wait(0.5)
                if self._handover is None:
                    return
                item, self._handover = self._handover, None
                self._lock.notify_all()
            try:
                self._finish(item, pipelined=True)
            except Exception as exc:  # the runner catches per-frame failures; this is the last net
                self._worker_failed(exc)

    def _worker_failed(self, exc: Exception) -> None:
        self._worker_errors += 1
        self.get_logger().error(f"worker: batch lost: {type(exc).__name__}: {exc}", throttle_duration_sec=5.0)

    def _finish(self, item: _Handover, pipelined: bool) -> None:
        """Track, publish, fuse and publish one batch. ``cycle``: the batch's time at full load
        (detection plus the rest; pipelined, the longer of the two, as they overlap), split evenly
        over its frames like the batch's other shared stages (detector, fused list and its publishing)."""
        t0 = time.perf_counter()
        outputs = self.runner.finish(item.detected, self._wanted(item.detected.keys))
        published = [(out, self._publish(out)) for out in outputs]
        done = time.monotonic()  # the cameras' own outputs are out: their latency ends here
        fused = self.runner.fuse(outputs)  # one list of all cameras, after their own outputs
        fused_ms = (self._publish(fused) or 0.0) if fused is not None else 0.0
        rest_ms = (time.perf_counter() - t0) * 1e3
        cycle_ms = max(item.detect_ms, rest_ms) if pipelined else item.detect_ms + rest_ms
        frames = max(sum(publish_ms is not None for _, publish_ms in published), 1)
        for out, publish_ms in published:
            if publish_ms is not None:
                latency_ms = (done - item.received[out.key]) * 1e3
                self.runner.record_latency(
                    out.key, latency_ms, publish_ms + fused_ms / frames, cycle_ms / frames
                )

    def _ready_frames(self) -> list[str]:
        """Cameras whose pending frame can go now (call with the lock held).

        A camera's frames before its first CameraInfo are held up to ``io.camera_info_wait_s``: the two
        topics race at start-up, and a first frame processed without intrinsics would start its
        tracks without ground positions (live and offline replays would then differ).
        """
        now = time.monotonic()
        wait_s = self.runner.config.io.camera_info_wait_s
        return [
            key
            for key in self._pending
            if self.runner.has_intrinsics(key) or now - self._received_wall[key] >= wait_s
        ]

    def _wanted(self, keys: list[str]) -> dict[str, set[str]]:
        """Per camera, the optional outputs that have a subscriber now: nobody listening, not built."""
        wanted: dict[str, set[str]] = {}
        for key in keys:
            wanted[key] = set()
            for field in OPTIONAL_OUTPUTS:
                pub = self._pubs.get(TOPIC_BY_FIELD[field].name(key))
                if pub is not None and pub.get_subscription_count() > 0:
                    wanted[key].add(field)
        return wanted

    def _publish(self, out: CameraOutput) -> float | None:
        """Publish a camera's messages; the time it took (ms), or None when nothing was processed."""
        if out.messages is None:
            return None
        t0 = time.perf_counter()
        for topic, msg in out.messages.items():
            pub = self._pubs.get(topic.name(out.key))
            # Nobody matched: a volatile topic's message would be serialized for no one (a transient-
            # local one, the markers, is kept for late joiners).
            if pub is not None and (topic.latched or pub.get_subscription_count() > 0):
                pub.publish(msg)
        return (time.perf_counter() - t0) * 1e3

    def _publish_diagnostics(self) -> None:
        """The one evaluator (``core/health.py``, fed by the runner) -> ``/diagnostics``."""
        ours: tuple[tuple[str, Value], ...] = (
            ("qos_incompatible_events", self._qos_incompatible),
            ("worker_errors", self._worker_errors),
        )
        statuses = [
            dataclasses.replace(st, values=st.values + ours)
            for st in self.runner.health(worker_alive=self._workers_alive())
        ]
        stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(diagnostic_array(statuses, stamp, self.get_name()))

    def _workers_alive(self) -> bool:
        return self._worker.is_alive() and (self._output is None or self._output.is_alive())

    def destroy_node(self) -> None:
        """Stop the worker after the batch it is on (its outputs are published), then the node."""
        with self._lock:
            self._running = False
            self._lock.notify_all()
        self._worker.join(timeout=10.0)
        if self._output is not None:
            with self._lock:
                self._output_stop = True
                self._lock.notify_all()
            self._output.join(timeout=10.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Run the node; started through ``node_main`` (signal handlers installed before any import)."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # started directly, not via node_main
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    node: PerceptionNode | None = None
    code = 0
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        node = PerceptionNode()
        # Callbacks only store messages (the work is in the worker thread), so one executor thread is
        # enough; a MultiThreadedExecutor was measured busy-spinning a core on this graph.
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ParameterFileError as exc:
        for line in str(exc).splitlines():
            logging.getLogger(NODE_NAME).error("invalid parameter: %s", line)
        code = 2
    except (ModelLoadError, WeightsError, ValueError, OSError) as exc:
        logging.getLogger(NODE_NAME).error("cannot start: %s", exc)
        code = 2
    finally:
        _shutdown(node)
    sys.exit(code)


def _shutdown(node: PerceptionNode | None) -> None:
    try:
        if node is not None:
            node.destroy_node()
    except KeyboardInterrupt:
        pass
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
