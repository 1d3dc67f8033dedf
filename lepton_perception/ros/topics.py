"""The one table of the node's topics: names, message types and QoS.

The node, ``lepton process``, ``lepton demo``, ``lepton bench node`` and the tests all read it, so a
topic is renamed or added here and nowhere else. Names are relative to the node's namespace
(``/perception`` in the launch file): per-camera outputs live under the camera key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from autoware_perception_msgs.msg import PredictedObjects, TrackedObjects
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray
from visualization_msgs.msg import MarkerArray

OBJECTS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Late-joining RViz gets the last markers.
MARKERS_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
# Odometry at 50-100 Hz: keep a few so none is lost while the executor is busy.
ODOMETRY_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
# Static mounts (robot_state_publisher): latched, so a node started later still gets them.
TF_STATIC_TOPIC = "/tf_static"
TF_STATIC_QOS = QoSProfile(
    depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
DIAGNOSTICS_TOPIC = "/diagnostics"
DIAGNOSTICS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def image_qos(reliability: Literal["best_effort", "reliable"]) -> QoSProfile:
    """Depth 1: only the newest frame matters; older ones are stale for planning."""
    rel = ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort" else ReliabilityPolicy.RELIABLE
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=1, reliability=rel, durability=DurabilityPolicy.VOLATILE
    )


@dataclass(frozen=True)
class OutputTopic:
    field: str  # attribute of runner.FrameMessages holding the message
    msg_type: type
    per_camera: bool  # KEY/<topic> per camera, else one topic for the node
    qos: QoSProfile
    topic: str = ""  # topic name when it differs from ``field``

    @property
    def latched(self) -> bool:
        """Transient local: late subscribers get the last message, so it is published even to nobody."""
        return self.qos.durability == DurabilityPolicy.TRANSIENT_LOCAL

    def name(self, key: str) -> str:
        """Topic name relative to the node namespace, e.g. ``front/tracked_objects``."""
        base = self.topic or self.field
        return f"{key}/{base}" if self.per_camera else base


OUTPUT_TOPICS: tuple[OutputTopic, ...] = (
    OutputTopic("detections", Detection2DArray, True, OBJECTS_QOS),
    OutputTopic("tracked_objects", TrackedObjects, True, OBJECTS_QOS),
    OutputTopic("predicted_objects", PredictedObjects, True, OBJECTS_QOS),
    OutputTopic("annotated_image", Image, True, OBJECTS_QOS),
    OutputTopic("markers", MarkerArray, False, MARKERS_QOS),
    # One fused list of all cameras in the world frame (odometry's, else io.target_frame); planners
    # read these (Autoware's /perception/object_recognition/objects and .../tracking/objects).
    OutputTopic("objects", PredictedObjects, False, OBJECTS_QOS),
    OutputTopic("fused_tracked_objects", TrackedObjects, False, OBJECTS_QOS, topic="tracked_objects"),
)
TOPIC_BY_FIELD = {t.field: t for t in OUTPUT_TOPICS}


def input_topics(namespace: str, transport: Literal["raw", "compressed"]) -> tuple[str, type, str]:
    """(image topic, image message type, camera_info topic) of a camera namespace."""
    ns = namespace.rstrip("/")
    if transport == "compressed":
        return f"{ns}/image_raw/compressed", CompressedImage, f"{ns}/camera_info"
    return f"{ns}/image_raw", Image, f"{ns}/camera_info"


def output_topics(node_ns: str, keys: list[str]) -> dict[str, type]:
    """Absolute name -> message type of every output of a node in ``node_ns`` (recorders, tests)."""
    ns = node_ns.rstrip("/")
    out: dict[str, type] = {}
    for t in OUTPUT_TOPICS:
        for key in keys if t.per_camera else [""]:
            out[f"{ns}/{t.name(key)}"] = t.msg_type
    out[DIAGNOSTICS_TOPIC] = DiagnosticArray
    return out
