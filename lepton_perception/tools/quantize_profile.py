"""Where the time goes in the fp32 and int8 models: onnxruntime's profiler, per kind of operator.

Used by ``lepton quantize --profile-runs N``. Every model gets its own 1-thread session with
onnxruntime's profiler on; the sessions run the same input interleaved run by run (a load change on a
shared machine hits them alike) and each kernel's time is summed per category, in ms per run.

The categories put an operator and its int8 counterpart together (``Conv`` / ``QLinearConv``,
``QuickGelu`` / ``QLinearSigmoid`` + ``QLinearMul``, ``Concat`` / ``QLinearConcat``, ...), convs split by
their role in the original graph (stem, depthwise, dense, prediction). ``bound`` is the best any mix
of the two could do: per category the faster of fp32 and the fully quantised model, with every
float <-> int8 conversion and layout change free. If fp32 / bound is under a speed target, no choice of
nodes to quantise reaches it with these kernels.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

CONVERSION = "float<->int8 conversion, layout"
_OP_CATEGORY = {
    "QuickGelu": "SiLU",
    "Sigmoid": "SiLU",
    "Mul": "SiLU",
    "QLinearSigmoid": "SiLU",
    "QLinearMul": "SiLU",
    "Concat": "concat",
    "QLinearConcat": "concat",
    "Add": "add",
    "QLinearAdd": "add",
    "MaxPool": "max pool",
    "NhwcMaxPool": "max pool",
    "Resize": "resize",
    "Upsample": "resize",
    "QuantizeLinear": CONVERSION,
    "DequantizeLinear": CONVERSION,
    "ReorderInput": CONVERSION,
    "ReorderOutput": CONVERSION,
    "Transpose": CONVERSION,
}
_CONV_OPS = ("Conv", "QLinearConv", "FusedConv")


def conv_roles(model: onnx.ModelProto) -> dict[str, str]:
    """Conv node name and output tensor name -> stem / depthwise conv / dense conv / prediction conv."""
    readers: dict[str, list[str]] = defaultdict(list)
    for n in model.graph.node:
        for name in n.input:
            readers[name].append(n.op_type)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    roles: dict[str, str] = {}
    for i, n in enumerate(convs):
        group = next((onnx.helper.get_attribute_value(a) for a in n.attribute if a.name == "group"), 1)
        role = "depthwise conv" if group > 1 else "dense conv"
        if "Mul" not in readers[n.output[0]]:
            role = "prediction conv"  # no SiLU after it
        roles[n.name] = roles[n.output[0]] = "stem conv" if i == 0 else role
    return roles


def _category(event_name: str, op: str, roles: dict[str, str]) -> str:
    if op in _CONV_OPS:
        # optimised graphs name a conv after the original node or its output, plus a suffix
        base = re.sub(r"(_token_\d+)?(_nchwc)?_kernel_time$", "", event_name)
        return roles.get(base, "dense conv")
    return _OP_CATEGORY.get(op, "other")


def _session(model: str | bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # one thread: kernel times add up to the run time
    opts.enable_profiling = True
    opts.profile_file_prefix = str(Path(tempfile.gettempdir()) / "lepton-quant-profile")
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def _kernel_ms(session: Any, runs: int, roles: dict[str, str]) -> dict[str, float]:
    """Ends ``session``'s profile: ms per run per category, the first (warm-up) run left out."""
    path = session.end_profiling()
    events = json.loads(Path(path).read_text())
    os.remove(path)
    first = min((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    cutoff = first["ts"] + first["dur"]
    out: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] > cutoff:
            out[_category(e["name"], e["args"].get("op_name", ""), roles)] += e["dur"] / 1e3 / runs
    return dict(out)


def profile(
    models: dict[str, str | bytes], roles: dict[str, str], size: int, runs: int
) -> dict[str, dict[str, float]]:
    """Per model name: category -> kernel ms per run over ``runs`` interleaved runs (+1 warm-up)."""
    sessions = {name: _session(m) for name, m in models.items()}
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, size, size)).astype(np.float32)
    for _ in range(runs + 1):
        for s in sessions.values():
            s.run(None, {s.get_inputs()[0].name: x})
    return {name: _kernel_ms(s, runs, roles) for name, s in sessions.items()}


def bound(fp32: dict[str, float], int8_all: dict[str, float]) -> dict[str, float]:
    """Per category the faster of fp32 and fully quantised, conversions free (see the module doc)."""
    cats = (set(fp32) | set(int8_all)) - {CONVERSION}
    return {c: min(fp32.get(c, 0.0), int8_all.get(c, float("inf"))) for c in cats}


def table(results: dict[str, dict[str, float]], columns: Sequence[str]) -> list[str]:
    """Markdown table: one row per category (largest fp32 first), then the totals."""
    cats = sorted({c for r in results.values() for c in r}, key=lambda c: -results[columns[0]].get(c, 0.0))
    lines = ["| kernel ms per run | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {c} | " + " | ".join(f"{results[k].get(c, 0.0):.2f}" for k in columns) + " |" for c in cats]
    totals = [sum(results[k].values()) for k in columns]
    lines.append("| **total** | " + " | ".join(f"**{t:.2f}**" for t in totals) + " |")
    lines.append("| fp32 total / total | " + " | ".join(f"{totals[0] / t:.2f}x" for t in totals) + " |")
    return lines
