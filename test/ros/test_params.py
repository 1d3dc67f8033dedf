"""Parameters: generated from the config schema; the YAML and the declarations agree; bad values refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lepton_perception.ros.params import (
    camera_key,
    check_values,
    config_from_values,
    default_params_file,
    load_yaml_values,
    render_yaml,
    specs_for,
)


def test_committed_yaml_is_the_generated_one() -> None:
    assert default_params_file().read_text() == render_yaml(), (
        "regenerate: python -m lepton_perception.ros.params > config/perception.yaml"
    )


def test_yaml_and_declarations_list_the_same_parameters() -> None:
    values = load_yaml_values(default_params_file())
    declared = {s.name for s in specs_for(tuple(values["io.cameras"]))}
    assert set(values) == declared


def test_yaml_defaults_match_the_dataclass_defaults() -> None:
    values = load_yaml_values(default_params_file())
    for spec in specs_for(tuple(values["io.cameras"])):
        if spec.name == "detector.model_path":
            continue  # "" in YAML means the resolved default model
        assert values[spec.name] == spec.default, spec.name


def test_schema_metadata_reaches_the_parameters() -> None:
    specs = {s.name: s for s in specs_for(("/camera",))}
    transport = specs["io.image_transport"]
    assert transport.choices == ("raw", "compressed")  # from the Literal annotation
    assert specs["io.camera_info_wait_s"].range == (0.0, 60.0)
    assert specs["io.camera_info_wait_s"].unit == "s"
    assert specs["camera_poses.camera.z_m"].description.startswith("camera /camera on the vehicle")
    assert not specs["io.cameras"].live


def test_every_parameter_has_a_description() -> None:
    missing = [s.name for s in specs_for(("/camera",)) if not s.description]
    assert not missing, missing


def test_default_model_does_not_depend_on_the_working_directory(tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        config = config_from_values({})
    finally:
        os.chdir(cwd)
    path = Path(config.detector.model_path)
    assert path.is_absolute() and path.is_file() and path.name == "yolox_nano.onnx"


def test_yaml_builds_a_config() -> None:
    config = config_from_values(load_yaml_values(default_params_file()))
    assert config.detector.model_path.endswith("yolox_nano.onnx")
    assert config.pose("camera").z_m == pytest.approx(1.65)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("io.camera_info_wait_s", 61.0, r"io.camera_info_wait_s=61.0 is outside \[0, 60\]"),
        ("io.image_transport", "theora", r"io.image_transport='theora' is not one of raw, compressed"),
        ("io.image_reliability", "sometimes", "is not one of best_effort, reliable"),
        ("io.diagnostics_period_s", 1, r"io.diagnostics_period_s: expected double, got integer 1"),
        ("io.publish_markers", "yes", r"io.publish_markers: expected bool, got string 'yes'"),
        ("io.diagnostics_period_s", float("nan"), "is not a finite number"),
        ("detector.nms_iou", 1.5, r"detector.nms_iou=1.5 is outside \[0.01, 1\]"),
        ("detector.backend", "tensorflow", "backend"),
        ("camera_poses.camera.pitch_rad", 7.0, r"camera_poses.camera.pitch_rad=7.0 is outside"),
        ("tracker.no_such_thing", 1.0, "unknown parameter tracker.no_such_thing"),
    ],
)
def test_bad_values_are_rejected_with_the_reason(name: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_from_values({name: value})


def test_all_problems_are_listed_at_once() -> None:
    problems = check_values({"io.typo": 1, "io.camera_info_wait_s": 2})
    assert problems == [
        "unknown parameter io.typo",
        "io.camera_info_wait_s: expected double, got integer 2",
    ]


def test_camera_list_creates_per_camera_poses() -> None:
    cfg = config_from_values(
        {"io.cameras": ["/cams/front", "/cams/rear"], "camera_poses.cams_rear.yaw_rad": 3.0}
    )
    assert camera_key("/cams/front") == "cams_front"
    assert cfg.pose("cams_rear").yaw_rad == pytest.approx(3.0)
    assert cfg.pose("cams_front").yaw_rad == 0.0


def test_poses_of_cameras_not_started_are_checked_but_not_refused() -> None:
    values = {**load_yaml_values(default_params_file()), "io.cameras": ["/front"]}
    assert check_values(values) == []  # the default file's `camera` pose, a launch with other cameras
    assert config_from_values(values).camera_poses.keys() == {"front"}
    bad = {**values, "camera_poses.camera.z_m": "high"}
    assert check_values(bad) == ["camera_poses.camera.z_m: expected double, got string 'high'"]
