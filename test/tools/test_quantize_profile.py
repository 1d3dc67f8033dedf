"""``lepton quantize --profile-runs``: operator categories, the mix bound and the profile itself."""

from __future__ import annotations

import json
from collections import Counter

import onnx
import pytest

from lepton_perception.tools import quantize_profile as qp
from lepton_perception.tools.common import shared_dir


@pytest.fixture(scope="module")
def fp32() -> onnx.ModelProto:
    return onnx.load(str(shared_dir() / "models" / "yolox_nano.onnx"))


def test_conv_roles_of_yolox_nano(fp32):
    roles = qp.conv_roles(fp32)
    per_node = Counter(roles[n.name] for n in fp32.graph.node if n.op_type == "Conv")
    assert per_node == {"stem conv": 1, "depthwise conv": 30, "prediction conv": 9, "dense conv": 73}
    first = next(n for n in fp32.graph.node if n.op_type == "Conv")
    assert roles[first.output[0]] == "stem conv"  # found by output name too (fp32 NCHWc kernels)


@pytest.mark.parametrize(
    ("event", "op", "expected"),
    [
        ("QuickGelu_kernel_time", "QuickGelu", "SiLU"),
        ("Sigmoid_45_kernel_time", "QLinearSigmoid", "SiLU"),
        ("x_QuantizeLinear_kernel_time", "QuantizeLinear", qp.CONVERSION),
        ("ReorderOutput_token_1_kernel_time", "ReorderOutput", qp.CONVERSION),
        ("Concat_66_kernel_time", "QLinearConcat", "concat"),
        ("Gather_kernel_time", "Gather", "other"),
    ],
)
def test_category(fp32, event, op, expected):
    assert qp._category(event, op, qp.conv_roles(fp32)) == expected


def test_optimised_conv_kernels_are_traced_back_to_their_role(fp32):
    roles = qp.conv_roles(fp32)
    dw = next(n for n in fp32.graph.node if roles.get(n.name) == "depthwise conv")
    # int8: the fused QLinearConv keeps the node name; fp32 NCHWc: named after the output tensor
    assert qp._category(f"{dw.name}_token_7_kernel_time", "QLinearConv", roles) == "depthwise conv"
    assert qp._category(f"{dw.output[0]}_nchwc_kernel_time", "Conv", roles) == "depthwise conv"


def test_bound_takes_the_faster_kernel_and_drops_conversions():
    fp32 = {"dense conv": 10.0, "SiLU": 4.0, qp.CONVERSION: 0.5}
    int8 = {"dense conv": 4.0, "SiLU": 9.0, qp.CONVERSION: 2.0, "concat": 1.0}
    assert qp.bound(fp32, int8) == {"dense conv": 4.0, "SiLU": 4.0, "concat": 0.0}
    lines = qp.table({"fp32": fp32, "bound": qp.bound(fp32, int8)}, ["fp32", "bound"])
    assert lines[-2] == "| **total** | **14.50** | **8.00** |"
    assert lines[-1] == "| fp32 total / total | 1.00x | 1.81x |"


def test_profile_counts_every_conv_of_the_float_model(fp32):
    res = qp.profile({"a": fp32.SerializeToString()}, qp.conv_roles(fp32), 416, runs=2)["a"]
    assert {"stem conv", "depthwise conv", "dense conv", "SiLU"} <= set(res)
    assert all(v >= 0 for v in res.values()) and sum(res.values()) > 0


def test_quantize_command_profiles_and_prints_json(monkeypatch, tmp_path, capsys, fp32):
    """The command's glue: both models it builds are profiled and the table and bound come out as JSON.

    Quantising is replaced by a float copy (its own tests build real int8 models); what is checked here
    is that the command profiles what it built and reports it on a clean stdout.
    """
    from lepton_perception.core.detection.onnx_backend import make_batch_dynamic
    from lepton_perception.core.detection.quantize import Int8Model
    from lepton_perception.tools import cli
    from lepton_perception.tools import quantize as tool

    path = tmp_path / "m.onnx"
    onnx.save(make_batch_dynamic(fp32), str(path))
    path.with_suffix(".json").write_text(json.dumps({"settings": {}, "onnxruntime": "x"}))
    built = []
    monkeypatch.setattr(
        tool, "_build", lambda args, s: built.append(s.keep_fp32) or Int8Model(path, "k", False)
    )
    assert cli.main(["quantize", "--profile-runs", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert built == [("stem", "head_preds", "depthwise", "silu"), ()]  # the default, then all quantised
    kernel = out["profile"]["kernel_ms"]
    names = {"fp32", "int8, all quantised", "int8, these settings"}
    assert len(kernel) == 4 and names < set(kernel)
    assert any(k.startswith("bound") for k in kernel)
    assert out["profile"]["table"][-1].startswith("| fp32 total / total | 1.00x |")
