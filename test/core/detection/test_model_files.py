"""Missing, truncated, corrupt and wrong-architecture weight files fail at start-up, naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from lepton_perception.core.detection import DetectorConfig, ModelLoadError, create_detector
from lepton_perception.core.detection.export import export_onnx
from lepton_perception.core.detection.weights import load_yolox_from_onnx
from lepton_perception.core.detection.yolox import VARIANTS, YOLOX, YoloxArch


def _tiny_conv_model(path: Path) -> Path:
    """A valid ONNX file of the wrong architecture: one conv, YOLOX-like input and output names."""
    w = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "conv.weight")
    shape = numpy_helper.from_array(np.array([1, 85, -1], np.int64), "shape")
    nodes = [
        helper.make_node("Conv", ["images", "conv.weight"], ["feat"], pads=[1, 1, 1, 1], strides=[8, 8]),
        helper.make_node("Reshape", ["feat", "shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "not_yolox",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 416, 416])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 85, None])],
        [w, shape],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _bad_files(model_path: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    data = model_path.read_bytes()
    (tmp / "truncated.onnx").write_bytes(data[: len(data) // 2])
    (tmp / "random.onnx").write_bytes(np.random.default_rng(0).bytes(100_000))
    (tmp / "empty.onnx").write_bytes(b"")
    m = onnx.load(str(model_path))
    for t in m.graph.initializer:
        if t.name == "head.cls_preds.0.weight":  # half the input channels: a mismatched layer
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t)[:, :32].copy(), t.name))
    onnx.save(m, str(tmp / "mismatched.onnx"))
    return {
        "missing": (tmp / "nope.onnx", "does not exist"),
        "empty": (tmp / "empty.onnx", "truncated or empty"),
        "truncated": (tmp / "truncated.onnx", "truncated or not a valid ONNX protobuf"),
        "random": (tmp / "random.onnx", "truncated or not a valid ONNX protobuf"),
        "wrong_architecture": (_tiny_conv_model(tmp / "tiny.onnx"), "not a YOLOX"),
        "mismatched_layer": (tmp / "mismatched.onnx", "head.cls_preds.0.weight [80, 32, 1, 1]"),
    }


CASES = ["missing", "empty", "truncated", "random", "wrong_architecture", "mismatched_layer"]


@pytest.fixture(scope="module")
def bad_files(model_path, tmp_path_factory):
    return _bad_files(model_path, tmp_path_factory.mktemp("bad_models"))


@pytest.mark.parametrize("case", CASES)
def test_torch_loader_names_file_and_problem(case, bad_files):
    path, why = bad_files[case]
    with pytest.raises(ModelLoadError) as err:
        load_yolox_from_onnx(path)
    assert str(path) in str(err.value) and why in str(err.value)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("backend", ["auto", "onnxruntime"])
def test_every_backend_fails_at_start_up(case, backend, bad_files):
    path, _ = bad_files[case]
    with pytest.raises(ModelLoadError, match=str(path)):
        create_detector(DetectorConfig(model_path=str(path), backend=backend, device="cpu"))


def test_mismatch_message_lists_expected_and_found(bad_files):
    path, _ = bad_files["mismatched_layer"]
    with pytest.raises(ModelLoadError) as err:
        load_yolox_from_onnx(path)
    msg = str(err.value)
    assert "YOLOX-nano" in msg and "expects weight [80, 64, 1, 1]" in msg


def test_other_widths_and_depths_load(tmp_path):
    """A YOLOX-tiny file (width 0.375, plain convs) is recognised and loads with the same numbers."""
    depth, width, depthwise = VARIANTS["tiny"]
    torch.manual_seed(0)
    src = YOLOX(YoloxArch(depth, width, depthwise)).eval()
    path = export_onnx(src, tmp_path / "tiny.onnx", size=64)
    loaded = load_yolox_from_onnx(path)
    assert loaded.arch == src.arch and "YOLOX-tiny" in loaded.arch.describe()
    x = torch.rand(2, 3, 64, 64) * 255
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), src(x), atol=1e-4, rtol=1e-4)
