"""Every ROS parameter, generated from the schema on the config dataclasses (``core/schema.py``).

``detector.nms_iou`` <- ``DetectorConfig.nms_iou``: name, default, description, unit, range, choices and
live flag all come from the field's ``param(...)`` metadata, so a new config field is a new parameter
(declaration, validation and a line of ``config/perception.yaml``) with no second list to keep in sync.

One validation function (``check_values``) serves the node at start-up, live parameter changes and the
offline tools (``lepton process``), so they accept and refuse exactly the same files.

Fields still declared without ``param(...)`` (configs being converted) become parameters too: no
description, no range beyond "a finite number >= 0", live only where the group says so.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from lepton_perception.core.camera import CameraPose
from lepton_perception.core.detection import DetectorConfig
from lepton_perception.core.detection.base import FILTER_FIELDS
from lepton_perception.core.health import HealthConfig
from lepton_perception.core.prediction.config import PredictorConfig
from lepton_perception.core.schema import meta_of, param
from lepton_perception.core.tracking.config import TrackerConfig
from lepton_perception.core.world.config import WorldConfig
from lepton_perception.paths import MODEL_FILE, MODEL_PLACES, resolve_default_model
from lepton_perception.ros.image_codec import DEFAULT_MAX_IMAGE_PIXELS

NODE_NAME = "lepton_perception"


@dataclass(frozen=True)
class IoConfig:
    """Topics, QoS, input limits and outputs of the node (not used by the core)."""

    cameras: tuple[str, ...] = param(("/camera",), "camera namespaces: NS/image_raw, NS/camera_info")
    image_transport: Literal["raw", "compressed"] = param(
        "raw", "raw: sensor_msgs/Image on NS/image_raw; compressed: NS/image_raw/compressed"
    )
    image_reliability: Literal["best_effort", "reliable"] = param(
        "best_effort", "image subscription QoS: best_effort matches any driver"
    )
    target_frame: str = param("base_link", "frame of ground-plane positions, tracks and markers")
    fallback_hfov_deg: float = param(
        0.0,
        "without CameraInfo assume this horizontal FOV; 0 = no ground positions",
        unit="deg",
        lo=0.0,
        hi=179.0,
    )
    camera_info_wait_s: float = param(
        0.5, "hold a camera's first frames this long for its first CameraInfo", unit="s", lo=0.0, hi=60.0
    )
    publish_annotated_image: bool = param(
        True, "publish KEY/annotated_image (an image copy + encode per frame)"
    )
    publish_markers: bool = param(True, "publish RViz MarkerArray on `markers`")
    pipeline: Literal["auto", "always", "never"] = param(
        "auto",
        "always: detect the next frames while the previous ones are tracked, fused and published (two "
        "threads); auto: when the detector leaves a CPU core free (CUDA, or detector.cpu_threads "
        "below the cores); never: one worker thread",
    )
    diagnostics_period_s: float = param(
        1.0, "/diagnostics period in node (sim) time", unit="s", lo=0.05, hi=60.0
    )
    reorder_tolerance_s: float = param(
        1.0,
        "a frame at most this older than the camera's last is dropped (counted); older resets its tracks",
        unit="s",
        lo=0.0,
        hi=3600.0,
    )
    max_image_pixels: int = param(
        DEFAULT_MAX_IMAGE_PIXELS,
        "frames over width x height pixels are skipped and counted before decoding (raw and compressed)",
        unit="px",
        lo=1,
        hi=1 << 31,
    )

    def __post_init__(self) -> None:
        if not self.cameras:
            raise ValueError("io.cameras must list at least one camera namespace")


@dataclass(frozen=True)
class NodeConfig:
    io: IoConfig = dataclasses.field(default_factory=IoConfig)
    detector: DetectorConfig = dataclasses.field(default_factory=DetectorConfig)
    tracker: TrackerConfig = dataclasses.field(default_factory=TrackerConfig)
    predictor: PredictorConfig = dataclasses.field(default_factory=PredictorConfig)
    health: HealthConfig = dataclasses.field(default_factory=HealthConfig)
    world: WorldConfig = dataclasses.field(default_factory=WorldConfig)
    # Pose of each camera on the vehicle, keyed by camera key (namespace without slashes).
    camera_poses: dict[str, CameraPose] = dataclasses.field(default_factory=dict)

    def pose(self, key: str) -> CameraPose:
        return self.camera_poses.get(key, CameraPose())


def camera_key(namespace: str) -> str:
    """``/cams/front`` -> ``cams_front``: the camera's name in parameters, topics and tracks."""
    key = namespace.strip("/").replace("/", "_")
    return key or "camera"


# --- parameter specs, generated from the dataclass fields -------------------------------------------
# Groups whose fields become parameters: prefix -> (dataclass, live default for fields without schema).
GROUPS: dict[str, tuple[type, bool]] = {
    "io": (IoConfig, False),
    "detector": (DetectorConfig, False),
    "tracker": (TrackerConfig, True),
    "predictor": (PredictorConfig, False),
    "health": (HealthConfig, False),
    "world": (WorldConfig, False),
}


@dataclass(frozen=True)
class ParamSpec:
    name: str  # full ROS parameter name, e.g. "tracker.max_coast_s"
    default: Any  # ROS-typed default (tuples become lists)
    description: str  # "" only for fields not yet declared with param(...)
    live: bool  # may change while the node runs
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""

    @property
    def kind(self) -> str:
        """ROS type name of the value: bool, integer, double, string, or their arrays."""
        return _kind(self.default)


def _kind(v: Any) -> str:
    if isinstance(v, list | tuple):
        return (_kind(v[0]) if v else "string") + "_array"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "double"
    return "string"


def _ros_value(v: Any) -> Any:
    if isinstance(v, enum.Enum):
        return v.value
    return list(v) if isinstance(v, tuple) else v


def _annotation_choices(cls: type, name: str) -> tuple[str, ...]:
    """Allowed strings from a ``Literal[...]`` or ``Enum`` annotation."""
    hint = typing.get_type_hints(cls).get(name)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return tuple(str(m.value) for m in hint)
    if typing.get_origin(hint) is Literal:
        return tuple(str(a) for a in typing.get_args(hint))
    return ()


def _field_spec(prefix: str, cls: type, f: dataclasses.Field[Any], group_live: bool) -> ParamSpec:
    name = f"{prefix}.{f.name}"
    default = _ros_value(getattr(cls(), f.name))
    meta = meta_of(f)
    if meta is None:  # not converted to param(...) yet: the transition rules of the module docstring
        live = group_live or (prefix == "detector" and f.name in FILTER_FIELDS)
        numeric = _kind(default) in ("integer", "double")
        rng = (0.0, math.inf) if numeric else None
        return ParamSpec(name, default, "", live, rng, _annotation_choices(cls, f.name))
    rng = None
    if meta.lo is not None or meta.hi is not None:
        rng = (-math.inf if meta.lo is None else meta.lo, math.inf if meta.hi is None else meta.hi)
    choices = meta.choices or _annotation_choices(cls, f.name)
    return ParamSpec(name, default, meta.description, meta.live, rng, choices, meta.unit)


def specs_for(cameras: tuple[str, ...]) -> list[ParamSpec]:
    """All parameters of the node for a given camera list (camera poses depend on it)."""
    out = [
        _field_spec(prefix, cls, f, live)
        for prefix, (cls, live) in GROUPS.items()
        for f in dataclasses.fields(cls)
    ]
    for ns in cameras:
        key = camera_key(ns)
        for f in dataclasses.fields(CameraPose):
            spec = _field_spec(f"camera_poses.{key}", CameraPose, f, False)
            desc = f"camera {ns} on the vehicle (REP 103, target frame): {spec.description}"
            out.append(dataclasses.replace(spec, description=desc if spec.description else ""))
    return out


# --- validation: one function for the node (start-up and live changes) and the offline tools ---------
def check_value(spec: ParamSpec, value: Any) -> str | None:
    """Why ``value`` is unacceptable for ``spec`` (type, range, choices), or None."""
    got = _kind(value)
    want = spec.kind
    if got != want and not (want.endswith("_array") and isinstance(value, list | tuple) and not value):
        return f"{spec.name}: expected {want}, got {got} {value!r}"
    if want == "double" and not math.isfinite(value):
        return f"{spec.name}: {value} is not a finite number"
    if spec.range is not None and want in ("integer", "double"):
        lo, hi = spec.range
        if not lo <= value <= hi:
            return f"{spec.name}={value} is outside [{lo:g}, {hi:g}]"
    if spec.choices and want == "string" and value not in spec.choices:
        return f"{spec.name}={value!r} is not one of {', '.join(spec.choices)}"
    return None


def check_values(values: dict[str, Any]) -> list[str]:
    """Every problem with a flat ``{name: value}`` set: unknown names, wrong types, out of range."""
    cameras = values.get("io.cameras", list(IoConfig().cameras))
    if not isinstance(cameras, list | tuple) or not all(isinstance(c, str) for c in cameras):
        return [f"io.cameras: expected string_array, got {cameras!r}"]
    # Poses of cameras not in io.cameras are checked but unused: one params file may describe more
    # cameras than a launch starts (the default file has `camera`, a launch may say cameras:=[/front]).
    specs = {s.name: s for s in specs_for((*cameras, *other_pose_keys(values, cameras)))}
    problems = [f"unknown parameter {n}" for n in sorted(set(values) - set(specs))]
    for name, value in values.items():
        if name in specs and (why := check_value(specs[name], value)):
            problems.append(why)
    return problems


def other_pose_keys(values: dict[str, Any], cameras: list[str] | tuple[str, ...]) -> list[str]:
    """Camera keys under ``camera_poses.`` that are not configured cameras (their poses are unused)."""
    configured = {camera_key(ns) for ns in cameras}
    keys = {n.split(".")[1] for n in values if n.startswith("camera_poses.") and n.count(".") == 2}
    return sorted(keys - configured)


def _group_kwargs(prefix: str, cls: type, values: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        name = f"{prefix}.{f.name}"
        if name in values:
            v = values[name]
            kwargs[f.name] = tuple(v) if isinstance(v, list) else v
    return kwargs


def config_from_values(values: dict[str, Any]) -> NodeConfig:
    """Flat ``{name: value}`` (missing names take defaults) -> NodeConfig. Raises ValueError."""
    problems = check_values(values)
    if problems:
        raise ValueError("; ".join(problems))
    cameras = tuple(values.get("io.cameras", IoConfig().cameras))
    groups: dict[str, Any] = {}
    for prefix, (cls, _) in GROUPS.items():
        kwargs = _group_kwargs(prefix, cls, values)
        if prefix == "detector" and not kwargs.get("model_path"):
            kwargs["model_path"] = resolve_default_model()
        groups[prefix] = cls(**kwargs)
    poses = {
        camera_key(ns): CameraPose(**_group_kwargs(f"camera_poses.{camera_key(ns)}", CameraPose, values))
        for ns in cameras
    }
    return NodeConfig(
        io=groups["io"],
        detector=groups["detector"],
        tracker=groups["tracker"],
        predictor=groups["predictor"],
        health=groups["health"],
        world=groups["world"],
        camera_poses=poses,
    )


def values_of(config: NodeConfig) -> dict[str, Any]:
    """NodeConfig -> flat ROS-typed ``{name: value}`` (inverse of ``config_from_values``)."""
    out: dict[str, Any] = {}
    for prefix in GROUPS:
        group = getattr(config, prefix)
        for f in dataclasses.fields(group):
            out[f"{prefix}.{f.name}"] = _ros_value(getattr(group, f.name))
    for ns in config.io.cameras:
        key = camera_key(ns)
        for f in dataclasses.fields(CameraPose):
            out[f"camera_poses.{key}.{f.name}"] = getattr(config.pose(key), f.name)
    return out


# --- params files ----------------------------------------------------------------------------------
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
    values.pop("use_sim_time", None)  # a ROS-wide parameter every node has
    return values


def default_params_file() -> Path:
    """config/perception.yaml from the source tree or the installed share directory."""
    src = Path(__file__).resolve().parents[2] / "config" / "perception.yaml"
    if src.is_file():
        return src
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory(NODE_NAME)) / "config" / "perception.yaml"


def _yaml_scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


def _comment(spec: ParamSpec) -> str:
    extra = [spec.unit] if spec.unit else []
    if spec.range is not None and spec.description:
        extra.append(f"[{spec.range[0]:g}, {spec.range[1]:g}]")
    if spec.choices:
        extra.append("|".join(spec.choices))
    if spec.live:
        extra.append("live")
    return spec.description + (f" ({'; '.join(extra)})" if extra else "")


def render_yaml(cameras: tuple[str, ...] = IoConfig().cameras) -> str:
    """The default params file: every parameter with its default, description, unit, range, live flag.

    ``python -m lepton_perception.ros.params > config/perception.yaml`` after changing a config field;
    the tests fail until the committed file equals this output.
    """
    lines = [
        "# Parameters of the lepton_perception node: every declared parameter, with its default.",
        "# Generated by `python -m lepton_perception.ros.params` from the config dataclasses' schema;",
        "# a test checks it. `live`: may be changed with `ros2 param set` while the node runs.",
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
    _emit(tree, 4, lines)
    return "\n".join(lines) + "\n"


def _emit(node: dict[str, Any], indent: int, lines: list[str]) -> None:
    for key, value in node.items():
        if isinstance(value, dict):
            lines.append(" " * indent + f"{key}:")
            _emit(value, indent + 2, lines)
            continue
        default, comment = value.default, _comment(value)
        if value.name == "detector.model_path":  # "" = resolved at start-up (never the working dir)
            default, comment = (
                "",
                f'YOLOX ONNX weights; "" = {MODEL_FILE} from {MODEL_PLACES}',
            )
        lines.append(" " * indent + f"{key}: {_yaml_scalar(default)}" + (f"  # {comment}" if comment else ""))


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_yaml())
