"""Parameters: the YAML and the declarations agree; bad values are rejected with a reason."""

from __future__ import annotations

import pytest

from lepton_perception.ros.params import (
    camera_key,
    config_from_values,
    default_params_file,
    load_yaml_values,
    specs_for,
)


def test_yaml_and_declarations_list_the_same_parameters() -> None:
    values = load_yaml_values(default_params_file())
    declared = {s.name for s in specs_for(tuple(values["io.cameras"]))}
    assert set(values) == declared, (
        f"only in YAML: {sorted(set(values) - declared)}; only declared: {sorted(declared - set(values))}"
    )


def test_yaml_defaults_match_the_dataclass_defaults() -> None:
    values = load_yaml_values(default_params_file())
    for spec in specs_for(tuple(values["io.cameras"])):
        if spec.name == "detector.model_path":
            continue  # "" in YAML means the shared default model
        assert values[spec.name] == spec.default, spec.name


def test_yaml_builds_a_config() -> None:
    config = config_from_values(load_yaml_values(default_params_file()))
    assert config.detector.model_path.endswith("yolox_nano.onnx")
    assert config.pose("camera").z_m == pytest.approx(1.65)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("detector.nms_iou", 1.5, "outside"),
        ("detector.score_threshold_vehicle", -0.1, "outside"),
        ("io.image_transport", "theora", "image_transport"),
        ("io.image_reliability", "sometimes", "image_reliability"),
        ("detector.backend", "tensorflow", "backend"),
        ("camera_poses.camera.pitch_rad", 7.0, "outside"),
        ("tracker.no_such_thing", 1.0, "unknown parameters"),
    ],
)
def test_bad_values_are_rejected_with_the_reason(name: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_from_values({name: value})


def test_camera_list_creates_per_camera_poses() -> None:
    cfg = config_from_values(
        {"io.cameras": ["/cams/front", "/cams/rear"], "camera_poses.cams_rear.yaw_rad": 3.0}
    )
    assert camera_key("/cams/front") == "cams_front"
    assert cfg.pose("cams_rear").yaw_rad == pytest.approx(3.0)
    assert cfg.pose("cams_front").yaw_rad == 0.0
