"""YOLOX weights from an ONNX file's initializers, with a checked name/shape mapping.

The released YOLOX ONNX files keep the upstream state-dict names only for the un-normalised head
convolutions (``head.cls_preds.0.weight`` ...); every conv followed by batch norm was folded by the
exporter into one conv with an anonymous initializer (``onnx::Conv_1178``). The mapping is therefore:

1. every ``Conv`` node of the graph, in graph order (the exporter writes nodes in execution order),
   is paired with the ``nn.Conv2d`` modules of our ``YOLOX`` in the order a forward pass calls them;
2. each pair must agree on weight shape, groups and stride, and have a bias;
3. an initializer that carries a state-dict name must land on the module of that name.

The architecture (width, depthwise, depth) is read from the file: width from the stem conv's output
channels, depthwise from the second conv's groups, depth from the number of convolutions. Any
disagreement raises ``ModelLoadError`` naming the file and listing the first offending layers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from lepton_perception.core.detection.base import ModelLoadError, load_onnx
from lepton_perception.core.detection.yolox import VARIANTS, YOLOX, YoloxArch

log = logging.getLogger(__name__)

_MAX_LISTED = 4  # offending layers quoted in an error message


@dataclass(frozen=True)
class _OnnxConv:
    weight: str  # initializer name
    bias: str | None
    shape: tuple[int, ...]
    groups: int
    stride: tuple[int, ...]


def _onnx_convs(model: onnx.ModelProto, path: Path) -> tuple[list[_OnnxConv], dict[str, onnx.TensorProto]]:
    inits = {t.name: t for t in model.graph.initializer}
    convs = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if len(node.input) < 2 or node.input[1] not in inits:
            raise ModelLoadError(f"model file {path}: Conv node {node.name!r} has no weight initializer")
        w = inits[node.input[1]]
        bias = node.input[2] if len(node.input) > 2 and node.input[2] in inits else None
        convs.append(
            _OnnxConv(
                node.input[1],
                bias,
                tuple(w.dims),
                int(attrs.get("group", 1)),
                tuple(attrs.get("strides", (1, 1))),
            )
        )
    return convs, inits


def _num_classes(model: onnx.ModelProto, path: Path) -> int:
    """From the named class-logit conv when the file keeps that name, else the output's last dim."""
    for t in model.graph.initializer:
        if t.name == "head.cls_preds.0.weight" and len(t.dims) == 4:
            return int(t.dims[0])
    out = model.graph.output[0].type.tensor_type.shape.dim
    if len(out) != 3 or not out[2].HasField("dim_value") or out[2].dim_value <= 5:
        raise ModelLoadError(
            f"model file {path}: output {model.graph.output[0].name} is not (B, A, 5 + classes)"
        )
    return int(out[2].dim_value) - 5


def conv_call_order(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """``nn.Conv2d`` modules of ``model`` in the order one forward pass calls them.

    Build ``model`` on the meta device (``with torch.device("meta")``) so this costs no compute.
    """
    names = {m: n for n, m in model.named_modules()}
    order: list[tuple[str, nn.Conv2d]] = []
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: order.append((names[mod], mod)))
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        with torch.inference_mode():
            model(torch.empty(1, 3, 64, 64, device=next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
    return order


def infer_arch(model: onnx.ModelProto, path: Path) -> YoloxArch:
    """Read width, depthwise and depth off the file's convolutions."""
    convs, _ = _onnx_convs(model, path)
    if len(convs) < 2 or len(convs[0].shape) != 4 or convs[0].shape[1] != 12:
        first = f"{convs[0].weight} {list(convs[0].shape)}" if convs else "none"
        raise ModelLoadError(
            f"model file {path} is not a YOLOX detector: expected a Focus stem conv with 12 input channels "
            f"first, found {len(convs)} Conv layers, first {first}"
        )
    width = convs[0].shape[0] / 64
    depthwise = convs[1].groups > 1
    num_classes = _num_classes(model, path)
    depths = sorted({d for d, _, _ in VARIANTS.values()})
    counts = {}
    for depth in depths:
        with torch.device("meta"):
            counts[depth] = len(conv_call_order(YOLOX(YoloxArch(depth, width, depthwise, num_classes))))
        if counts[depth] == len(convs):
            return YoloxArch(depth, width, depthwise, num_classes)
    raise ModelLoadError(
        f"model file {path} is not a YOLOX detector of a known depth: it has {len(convs)} Conv layers; "
        f"width {width}{' depthwise' if depthwise else ''} YOLOX has "
        + ", ".join(f"{n} at depth {d}" for d, n in counts.items())
    )


def state_dict_from_onnx(model: onnx.ModelProto, path: Path, arch: YoloxArch) -> dict[str, torch.Tensor]:
    """Map the file's conv initializers onto ``YOLOX(arch)`` parameter names, checking every pair."""
    convs, inits = _onnx_convs(model, path)
    with torch.device("meta"):
        order = conv_call_order(YOLOX(arch))
    problems: list[str] = []
    if len(order) != len(convs):
        problems.append(f"{len(convs)} Conv layers in the file, {len(order)} expected")
    state: dict[str, torch.Tensor] = {}
    for i, ((name, mod), oc) in enumerate(zip(order, convs)):
        want = tuple(mod.weight.shape)
        if want != oc.shape or mod.groups != oc.groups or tuple(mod.stride) != oc.stride or oc.bias is None:
            problems.append(
                f"conv #{i} {name}: expects weight {list(want)} groups {mod.groups}"
                f" stride {list(mod.stride)} with bias; file has {oc.weight} {list(oc.shape)}"
                f" groups {oc.groups} stride {list(oc.stride)}"
                f"{'' if oc.bias else ' without bias'}"
            )
            continue
        for suffix, init_name in (("weight", oc.weight), ("bias", oc.bias)):
            assert init_name is not None
            if not init_name.startswith("onnx::") and init_name != f"{name}.{suffix}":
                problems.append(f"conv #{i}: initializer {init_name} would load into {name}.{suffix}")
            try:
                arr: npt.NDArray[np.float32] = numpy_helper.to_array(inits[init_name]).astype(np.float32)
            except Exception as exc:  # short raw_data of a truncated tensor
                problems.append(f"initializer {init_name} is unreadable ({exc})")
                continue
            expect = want if suffix == "weight" else (want[0],)
            if arr.shape != expect:
                problems.append(
                    f"initializer {init_name} has shape {list(arr.shape)}, expected {list(expect)}"
                )
                continue
            state[f"{name}.{suffix}"] = torch.from_numpy(arr.copy())
    if problems:
        more = f" (and {len(problems) - _MAX_LISTED} more)" if len(problems) > _MAX_LISTED else ""
        raise ModelLoadError(
            f"model file {path} does not match {arch.describe()}: " + "; ".join(problems[:_MAX_LISTED]) + more
        )
    return state


def load_yolox_from_onnx(path: str | Path) -> YOLOX:
    """Build the YOLOX variant stored in an ONNX file and load its weights (CPU, fp32, eval mode)."""
    p, model = load_onnx(path)
    arch = infer_arch(model, p)
    state = state_dict_from_onnx(model, p, arch)
    net = YOLOX(arch)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:  # cannot happen when every conv mapped; kept as a guard for new modules
        raise ModelLoadError(f"model file {p}: parameters not loaded {missing[:_MAX_LISTED]}")
    log.info("loaded %s from %s (%d tensors)", arch.describe(), p, len(state))
    return net.eval()
