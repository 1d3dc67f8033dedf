"""The perception node: subscriptions, QoS, keep-latest frame slots, publishers. No perception logic.

Callbacks only store the newest message per camera; one worker thread takes whatever is pending
across cameras, runs it through ``PerceptionRunner`` as one detector batch, and publishes.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from typing import Any

import numpy as np
import rclpy
from autoware_perception_msgs.msg import PredictedObjects, TrackedObjects
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
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from vision_msgs.msg import Detection2DArray
from visualization_msgs.msg import MarkerArray

from lepton_perception.core.detection import ModelLoadError
from lepton_perception.core.prediction.weights import WeightsError
from lepton_perception.ros import conversions as conv
from lepton_perception.ros.ego import FUSED_KEY
from lepton_perception.ros.params import NODE_NAME, ParamSpec, config_from_values, specs_for
from lepton_perception.ros.runner import CameraOutput, PerceptionRunner

log = logging.getLogger(__name__)

OBJECTS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Late-joining RViz gets the last markers.
MARKERS_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)


def image_qos(reliability: str) -> QoSProfile:
    """Depth 1: only the newest frame matters; older ones are stale for planning."""
    rel = ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort" else ReliabilityPolicy.RELIABLE
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=1, reliability=rel, durability=DurabilityPolicy.VOLATILE
    )


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    d = ParameterDescriptor(name=spec.name, description=spec.description, read_only=not spec.live)
    if spec.range is not None and isinstance(spec.default, float):
        d.floating_point_range = [
            FloatingPointRange(from_value=float(spec.range[0]), to_value=float(spec.range[1]))
        ]
    elif spec.range is not None and isinstance(spec.default, int) and not isinstance(spec.default, bool):
        d.integer_range = [IntegerRange(from_value=int(spec.range[0]), to_value=int(spec.range[1]), step=0)]
    return d


class PerceptionNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        cameras_spec = specs_for(("/camera",))[0]
        cameras = tuple(
            self.declare_parameter(cameras_spec.name, cameras_spec.default, _descriptor(cameras_spec)).value
        )
        self._specs = {s.name: s for s in specs_for(cameras)}
        values = {cameras_spec.name: list(cameras)}
        for spec in self._specs.values():
            if spec.name != cameras_spec.name:
                values[spec.name] = self.declare_parameter(spec.name, spec.default, _descriptor(spec)).value
        config = config_from_values(values)  # raises ValueError with the offending parameter
        self.runner = PerceptionRunner(config)
        self.get_logger().info(
            f"detector {self.runner.detector.name} on {self.runner.detector.device}; "
            f"cameras {list(cameras)}; positions in {config.io.target_frame}"
        )
        odom_topic = config.world.odometry_topic
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._lock = threading.Condition()
        self._pending: dict[str, Image | CompressedImage] = {}
        self._received_wall: dict[str, float] = {}
        self._latency_ms: deque[float] = deque(maxlen=200)
        self._stage_ms: dict[str, deque[float]] = {}
        self._qos_incompatible = 0
        self._diag_wall = time.monotonic()
        self._diag_counts: dict[str, tuple[int, int]] = {}  # camera -> (frames received, processed)
        self._pubs: dict[str, dict[str, Any]] = {}
        io = config.io
        for key, cam in self.runner.cameras.items():
            ns = cam.namespace.rstrip("/")
            compressed = io.image_transport == "compressed"
            topic = f"{ns}/image_raw/compressed" if compressed else f"{ns}/image_raw"
            events = SubscriptionEventCallbacks(
                incompatible_qos=functools.partial(self._on_incompatible_qos, topic=topic)
            )
            self.create_subscription(
                CompressedImage if compressed else Image,
                topic,
                functools.partial(self._on_image, key),
                image_qos(io.image_reliability),
                event_callbacks=events,
            )
            self.create_subscription(
                CameraInfo,
                f"{ns}/camera_info",
                functools.partial(self._on_camera_info, key),
                qos_profile_sensor_data,
            )
            self._pubs[key] = {
                "detections": self.create_publisher(Detection2DArray, f"{key}/detections", OBJECTS_QOS),
                "tracked_objects": self.create_publisher(
                    TrackedObjects, f"{key}/tracked_objects", OBJECTS_QOS
                ),
                "predicted_objects": self.create_publisher(
                    PredictedObjects, f"{key}/predicted_objects", OBJECTS_QOS
                ),
            }
            if io.publish_annotated_image:
                self._pubs[key]["annotated_image"] = self.create_publisher(
                    Image, f"{key}/annotated_image", OBJECTS_QOS
                )
        # One fused list of all cameras in the fixed frame (odometry) for planners; docs/world.md.
        self.create_subscription(Odometry, odom_topic, self.runner.world.add_odometry, 50)
        self._pubs[FUSED_KEY] = {
            "objects": self.create_publisher(PredictedObjects, "objects", OBJECTS_QOS),
            "tracked_objects": self.create_publisher(TrackedObjects, "tracked_objects", OBJECTS_QOS),
        }
        self.get_logger().info(
            f"odometry on {odom_topic}; camera extrinsics from parameters (camera_poses.*): "
            "no tf2 in this environment"
        )
        self._markers_pub = (
            self.create_publisher(MarkerArray, "markers", MARKERS_QOS) if io.publish_markers else None
        )
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(io.diagnostics_period_s, self._publish_diagnostics)
        self._running = True
        self._worker = threading.Thread(target=self._work, name="lepton_worker", daemon=True)
        self._worker.start()

    # --- callbacks: store only --------------------------------------------------------------------
    def _on_image(self, key: str, msg: Image | CompressedImage) -> None:
        with self._lock:
            if key in self._pending:
                # Keep only the newest frame: the older one would only add latency.
                self.runner.cameras[key].counters["stale_skipped"] += 1
            self._pending[key] = msg
            self._received_wall[key] = time.monotonic()
            self._lock.notify()

    def _on_incompatible_qos(self, event: Any, topic: str) -> None:
        self._qos_incompatible += 1
        kind = getattr(event, "last_policy_kind", None)
        policy = getattr(kind, "name", str(kind)).replace("RMW_QOS_POLICY_", "")
        self.get_logger().warning(
            f"incompatible QoS on {topic}: a publisher cannot be matched (policy {policy}); set "
            f"io.image_reliability to match the camera driver (best_effort subscribes to both)"
        )

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        values = {s.name: self.get_parameter(s.name).value for s in self._specs.values()}
        for p in params:
            spec = self._specs.get(p.name)
            if spec is None:
                return SetParametersResult(successful=False, reason=f"unknown parameter {p.name}")
            if not spec.live:
                return SetParametersResult(successful=False, reason=f"{p.name} cannot change while running")
            values[p.name] = p.value
        try:
            config = config_from_values(values)
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.runner.config = config
        self.runner.detector.update_filter(config.detector)
        for tracker in self.runner.pipeline.trackers.values():
            tracker.config = config.tracker
        return SetParametersResult(successful=True)

    # --- worker: convert -> pipeline -> publish ----------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while self._running and not (ready := self._ready_frames()):
                    self._lock.wait(0.05 if self._pending else 0.5)
                if not self._running:
                    return
                batch = [(key, self._pending.pop(key)) for key in ready]
                received = dict(self._received_wall)
            outputs = self.runner.process(batch)
            fused = self.runner.fuse(outputs)
            if fused is not None:
                outputs.append(fused)
            for out in outputs:
                self._publish(out)
                if out.result is not None:
                    self._latency_ms.append((time.monotonic() - received[out.key]) * 1e3)
                    for stage, ms in out.result.timings_ms.items():
                        self._stage_ms.setdefault(stage, deque(maxlen=200)).append(ms)

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
            if self.runner.cameras[key].intrinsics is not None or now - self._received_wall[key] >= wait_s
        ]

    def _on_camera_info(self, key: str, msg: CameraInfo) -> None:
        with self._lock:
            self.runner.set_camera_info(key, msg)
            self._lock.notify()

    def _publish(self, out: CameraOutput) -> None:
        for topic, msg in out.messages.items():
            if topic == "markers" and self._markers_pub is not None:
                self._markers_pub.publish(msg)
            elif topic in self._pubs[out.key]:
                self._pubs[out.key][topic].publish(msg)

    def _publish_diagnostics(self) -> None:
        now = self.get_clock().now().to_msg()
        arr = DiagnosticArray()
        arr.header.stamp = now
        wall = time.monotonic()
        elapsed = max(wall - self._diag_wall, 1e-6)
        for key, cam in self.runner.cameras.items():
            values: dict[str, float | int | str] = dict(cam.counters)
            # Rates over the last period, per wall-clock second (what the machine keeps up with).
            prev = self._diag_counts.get(key, (0, 0))
            now_counts = (
                cam.counters["frames_in"] + cam.counters["stale_skipped"],
                cam.counters["processed"],
            )
            values["input_hz"] = (now_counts[0] - prev[0]) / elapsed
            values["processed_hz"] = (now_counts[1] - prev[1]) / elapsed
            self._diag_counts[key] = now_counts
            values["camera_info"] = "yes" if cam.intrinsics is not None else "missing"
            for reason, n in self.runner.predictor_fallbacks().items():
                values[f"prediction_fallback_{reason}"] = n
            tracker = self.runner.pipeline.trackers.get(key)
            values["invalid_detections_skipped"] = tracker.skipped_detections if tracker is not None else 0
            values["qos_incompatible_events"] = self._qos_incompatible
            # Which frame tracks live in: the odometry's fixed frame, or base_link without odometry.
            values["world_frame"] = self.runner.world.frame_id
            values["world"] = self.runner.world.status()
            values.update({f"world_{k}": n for k, n in self.runner.world.counters.items()})
            if self._latency_ms:
                lat = np.asarray(self._latency_ms)
                values["latency_ms_p50"] = float(np.percentile(lat, 50))
                values["latency_ms_max"] = float(lat.max())
            for stage, ms in self._stage_ms.items():
                values[f"{stage}_ms_mean"] = float(np.mean(ms))
            level, message = 0, "ok"
            if cam.intrinsics is None and cam.counters["frames_in"]:
                level, message = 1, "no CameraInfo received: no ground-plane positions"
            if cam.counters["decode_errors"]:
                level, message = 1, f"{cam.counters['decode_errors']} undecodable frames skipped"
            arr.status += conv.diagnostics_msg(
                now, f"{NODE_NAME}: camera {key}", key, values, level, message
            ).status
        self._diag_wall = wall
        self._diag_pub.publish(arr)

    def destroy_node(self) -> None:
        with self._lock:
            self._running = False
            self._lock.notify()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [%(name)s]: %(message)s")
    rclpy.init(args=args)
    try:
        node = PerceptionNode()
    except (ModelLoadError, WeightsError, ValueError) as exc:
        logging.getLogger(NODE_NAME).error("cannot start: %s", exc)
        rclpy.try_shutdown()
        raise SystemExit(2) from exc
    # Callbacks only store messages (the work is in the worker thread), so one executor thread is
    # enough; a MultiThreadedExecutor was measured busy-spinning a core on this graph.
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
