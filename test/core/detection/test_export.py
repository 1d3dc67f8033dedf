"""TorchScript and dynamic-batch ONNX exports reproduce the torch network; the ORT batch rewrite is sound."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from lepton_perception.core.detection.export import (
    check_onnx,
    check_torchscript,
    export_onnx,
    export_torchscript,
)
from lepton_perception.core.detection.onnx_backend import make_batch_dynamic

SIZE = 416


def test_torchscript_round_trip(torch_detector, tmp_path):
    path = export_torchscript(torch_detector.model, tmp_path / "yolox.pt", SIZE)
    check = check_torchscript(torch_detector.model, path, SIZE, batch=2)
    assert check.batch == 2 and check.max_abs_diff < 1e-3


def test_onnx_round_trip_with_dynamic_batch(torch_detector, tmp_path):
    path = export_onnx(torch_detector.model, tmp_path / "yolox.onnx", SIZE)
    batch_dim = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.HasField("dim_value")
    check = check_onnx(torch_detector.model, path, SIZE, batch=2)
    assert check.batch == 2 and check.max_abs_diff < 1e-3
    # The caller's model is untouched by the export (still channels_last, still on its device).
    assert next(torch_detector.model.parameters()).is_contiguous(memory_format=torch.channels_last)


def test_batch_rewrite_of_the_release_file(model_path):
    model = onnx.load(str(model_path))
    dyn = make_batch_dynamic(model)
    assert dyn is not None
    fixed = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    batched = ort.InferenceSession(dyn.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).uniform(0, 255, (3, 3, SIZE, SIZE)).astype(np.float32)
    want = np.concatenate([fixed.run(None, {"images": b[None]})[0] for b in x])
    np.testing.assert_allclose(batched.run(None, {"images": x})[0], want, atol=1e-4)


@pytest.mark.parametrize("target", [None, [2, 85, -1]])
def test_batch_rewrite_refuses_what_it_cannot_prove(target):
    """A computed Reshape target, or one whose leading dim is not 1, is left alone (loop instead)."""
    inputs = ["x", "shape"]
    inits = []
    nodes = []
    if target is None:
        nodes.append(helper.make_node("Shape", ["x"], ["shape"]))
    else:
        inits.append(numpy_helper.from_array(np.array(target, np.int64), "shape"))
    nodes.append(helper.make_node("Reshape", inputs, ["y"]))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 85, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 85, 4])],
        inits,
    )
    assert make_batch_dynamic(helper.make_model(graph)) is None
