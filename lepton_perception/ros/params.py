"""Every ROS parameter, declared once, mapped onto the frozen config dataclasses of the core.

Parameters are derived from the config dataclasses' fields (``detector.nms_iou`` <- ``DetectorConfig``),
so a new config field is a new parameter with no second list to keep in sync. Descriptions and ranges
that are not obvious from the name live in ``_DOC`` / ``_RANGES``; validation is the dataclasses' own
``__post_init__`` plus the ranges. The same table builds a config from a YAML file (offline tools).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lepton_perception.core.camera import CameraPose
from lepton_perception.core.detection import DetectorConfig
from lepton_perception.core.detection.base import FILTER_FIELDS
from lepton_perception.core.prediction.predictor import PredictorConfig
from lepton_perception.core.tracking.tracker import TrackerConfig
from lepton_perception.core.world.config import WorldConfig
from lepton_perception.paths import default_model

NODE_NAME = "lepton_perception"


@dataclass(frozen=True)
class IoConfig:
    """Topics, QoS and outputs of the node (not used by the core)."""

    cameras: tuple[str, ...] = ("/camera",)  # camera namespaces: NS/image_raw, NS/camera_info
    image_transport: str = "raw"  # "raw" (sensor_msgs/Image) or "compressed" (NS/image_raw/compressed)
    image_reliability: str = "best_effort"  # image QoS: "best_effort" (matches any driver) or "reliable"
    target_frame: str = "base_link"  # frame of ground-plane positions and markers
    fallback_hfov_deg: float = 0.0  # without CameraInfo: assume this horizontal FOV (0 = no positions)
    camera_info_wait_s: float = 0.5  # hold a camera's frames this long for its first CameraInfo
    publish_annotated_image: bool = True  # KEY/annotated_image (costs an image copy + encode per frame)
    publish_markers: bool = True  # RViz MarkerArray on `markers`
    diagnostics_period_s: float = 1.0  # /diagnostics period, seconds of node (sim) time

    def __post_init__(self) -> None:
        if not self.cameras:
            raise ValueError("cameras must list at least one camera namespace")
        if self.image_transport not in ("raw", "compressed"):
            raise ValueError(f"image_transport must be 'raw' or 'compressed', got {self.image_transport!r}")
        if self.image_reliability not in ("best_effort", "reliable"):
            raise ValueError(
                f"image_reliability must be 'best_effort' or 'reliable', got {self.image_reliability!r}"
            )


@dataclass(frozen=True)
class NodeConfig:
    io: IoConfig = field(default_factory=IoConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    world: WorldConfig = field(default_factory=WorldConfig)
    # Pose of each camera on the vehicle, keyed by camera key (namespace without slashes).
    camera_poses: dict[str, CameraPose] = field(default_factory=dict)

    def pose(self, key: str) -> CameraPose:
        return self.camera_poses.get(key, CameraPose())


def camera_key(namespace: str) -> str:
    """``/cams/front`` -> ``cams_front``: the camera's name in parameters, topics and tracks."""
    key = namespace.strip("/").replace("/", "_")
    return key or "camera"


# Groups whose fields become parameters: prefix -> (dataclass, can change while running).
GROUPS: dict[str, tuple[type, bool]] = {
    "io": (IoConfig, False),
    "detector": (DetectorConfig, False),
    "tracker": (TrackerConfig, True),
    "predictor": (PredictorConfig, False),
    "world": (WorldConfig, False),
}
_RANGES: dict[str, tuple[float, float]] = {
    "detector.nms_iou": (0.01, 1.0),
    "detector.score_threshold_pedestrian": (0.0, 1.0),
    "detector.score_threshold_cyclist": (0.0, 1.0),
    "detector.score_threshold_vehicle": (0.0, 1.0),
    "detector.input_size_px": (64, 2048),
    "detector.max_detections": (1, 10000),
    "detector.cpu_threads": (0, 256),
    "io.fallback_hfov_deg": (0.0, 179.0),
    "io.diagnostics_period_s": (0.05, 60.0),
    "io.camera_info_wait_s": (0.0, 60.0),
}
_POSE_RANGES = {
    "roll_rad": (-3.1416, 3.1416),
    "pitch_rad": (-3.1416, 3.1416),
    "yaw_rad": (-3.1416, 3.1416),
    "x_m": (-100.0, 100.0),
    "y_m": (-100.0, 100.0),
    "z_m": (-10.0, 100.0),
}


def _range(name: str, default: Any) -> tuple[float, float] | None:
    """Explicit range, else numeric tracker/predictor settings (times, distances, counts) are >= 0."""
    if name in _RANGES:
        return _RANGES[name]
    numeric = isinstance(default, int | float) and not isinstance(default, bool)
    if numeric and name.split(".", maxsplit=1)[0] in ("tracker", "predictor"):
        return (0, 1_000_000) if isinstance(default, int) else (0.0, 1e6)
    return None


@dataclass(frozen=True)
class ParamSpec:
    name: str  # full ROS parameter name, e.g. "tracker.max_coast_s"
    default: Any  # ROS-typed default (tuples become lists)
    description: str
    live: bool  # may change while the node runs
    range: tuple[float, float] | None = None


@functools.cache
def field_comments(cls: type) -> dict[str, str]:
    """The trailing ``# comment`` of each dataclass field: the single source of parameter docs."""
    found = re.findall(r"^\s+(\w+): [^#\n]+#\s*(.+)$", inspect.getsource(cls), flags=re.M)
    return dict(found)


def _ros_value(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def specs_for(cameras: tuple[str, ...]) -> list[ParamSpec]:
    """All parameters of the node for a given camera list (camera poses depend on it)."""
    out: list[ParamSpec] = []
    for prefix, (cls, live) in GROUPS.items():
        defaults = cls()
        for f in dataclasses.fields(cls):
            name = f"{prefix}.{f.name}"
            is_live = live or (prefix == "detector" and f.name in FILTER_FIELDS)
            desc = field_comments(cls).get(f.name, f"{cls.__name__}.{f.name}")
            out.append(
                ParamSpec(
                    name,
                    _ros_value(getattr(defaults, f.name)),
                    desc,
                    is_live,
                    _range(name, getattr(defaults, f.name)),
                )
            )
    pose = CameraPose()
    for ns in cameras:
        key = camera_key(ns)
        for f in dataclasses.fields(CameraPose):
            out.append(
                ParamSpec(
                    f"camera_poses.{key}.{f.name}",
                    getattr(pose, f.name),
                    f"pose of camera {ns} on the vehicle (REP 103, target frame): {f.name}",
                    False,
                    _POSE_RANGES[f.name],
                )
            )
    return out


def validate(spec: ParamSpec, value: Any) -> str | None:
    """Reason the value is unacceptable, or None."""
    if spec.range is not None and isinstance(value, int | float) and not isinstance(value, bool):
        lo, hi = spec.range
        if not lo <= value <= hi:
            return f"{spec.name}={value} is outside [{lo}, {hi}]"
    return None


def config_from_values(values: dict[str, Any]) -> NodeConfig:
    """Flat ``{name: value}`` (missing names take defaults) -> NodeConfig. Raises ValueError."""
    cameras = tuple(values.get("io.cameras", IoConfig().cameras))
    for spec in specs_for(cameras):
        if spec.name in values and (why := validate(spec, values[spec.name])):
            raise ValueError(why)
    known = {s.name for s in specs_for(cameras)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown parameters: {', '.join(unknown)}")
    groups: dict[str, Any] = {}
    for prefix, (cls, _) in GROUPS.items():
        kwargs = {}
        for f in dataclasses.fields(cls):
            name = f"{prefix}.{f.name}"
            if name in values:
                v = values[name]
                kwargs[f.name] = tuple(v) if isinstance(getattr(cls(), f.name), tuple) else v
        if prefix == "detector" and not kwargs.get("model_path"):
            kwargs["model_path"] = str(default_model())
        groups[prefix] = cls(**kwargs)
    poses = {}
    for ns in cameras:
        key = camera_key(ns)
        kw = {
            f.name: float(values[f"camera_poses.{key}.{f.name}"])
            for f in dataclasses.fields(CameraPose)
            if f"camera_poses.{key}.{f.name}" in values
        }
        poses[key] = CameraPose(**kw)
    return NodeConfig(
        io=groups["io"],
        detector=groups["detector"],
        tracker=groups["tracker"],
        predictor=groups["predictor"],
        world=groups["world"],
        camera_poses=poses,
    )


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(flatten(v, name))
        else:
            out[name] = v
    return out


def load_yaml_values(path: str | Path, node_name: str = NODE_NAME) -> dict[str, Any]:
    """Flat parameter values of ``node_name`` from a ROS 2 params file (``/**`` sections apply too)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    values: dict[str, Any] = {}
    for key in ("/**", node_name, f"/{node_name}", f"/**/{node_name}"):
        section = data.get(key, {})
        values.update(flatten(section.get("ros__parameters", {})))
    return values


def default_params_file() -> Path:
    """config/perception.yaml from the source tree or the installed share directory."""
    src = Path(__file__).resolve().parents[2] / "config" / "perception.yaml"
    if src.is_file():
        return src
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("lepton_perception")) / "config" / "perception.yaml"


def render_yaml(cameras: tuple[str, ...] = IoConfig().cameras) -> str:
    """The default params file: every parameter with its default and its field comment.

    ``python -m lepton_perception.ros.params > config/perception.yaml`` after adding a config field;
    the tests fail until the committed file lists exactly the declared parameters.
    """
    lines = [
        "# Parameters of the lepton_perception node: every declared parameter, with its default.",
        "# Generated by `python -m lepton_perception.ros.params`; a test checks it against the declarations.",
        "# Units are in the names: _s seconds, _m metres, _rad radians, _px pixels, _deg degrees.",
        "# Live-changeable (ros2 param set): tracker.*, detector score thresholds, nms_iou, max_detections.",
        "/**:  # any namespace the node is started in (launch file namespace argument)",
        "  ros__parameters:",
    ]
    tree: dict[str, Any] = {}
    for spec in specs_for(cameras):
        *parents, leaf = spec.name.split(".")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = spec

    def emit(node: dict[str, Any], indent: int) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                lines.append(" " * indent + f"{key}:")
                emit(value, indent + 2)
                continue
            default = "" if value.name == "detector.model_path" else value.default
            desc = value.description
            if value.name == "detector.model_path":
                desc = 'YOLOX ONNX weights; "" = $LEPTON_SHARED/models/yolox_nano.onnx (../shared)'
            text = (
                yaml.safe_dump(default, default_flow_style=True, width=1000)
                .strip()
                .removesuffix("...")
                .strip()
            )
            lines.append(" " * indent + f"{key}: {text}  # {desc}")

    emit(tree, 4)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_yaml())
