"""int8 model: which nodes stay float, cache keys, the cached build and the int8 detector's output."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import onnx
import pytest

from lepton_perception.core.detection import DetectorConfig, create_detector
from lepton_perception.core.detection.evaluation import box_agreement
from lepton_perception.core.detection.onnx_backend import OnnxRuntimeDetector, make_batch_dynamic
from lepton_perception.core.detection.quantize import (
    RECIPE_VERSION,
    CalibrationSet,
    QuantSettings,
    cache_key,
    default_cache_dir,
    ensure_int8_model,
    fp32_nodes,
    fuse_float_silus,
)
from lepton_perception.core.schema import meta_of


@pytest.fixture(scope="module")
def graph(model_path):
    return make_batch_dynamic(onnx.load(str(model_path)))


def test_stem_role_is_the_first_conv_and_its_silu(graph):
    names = fp32_nodes(graph, ("stem",))
    ops = {n.name: n.op_type for n in graph.graph.node}
    assert [ops[n] for n in names].count("Conv") == 1
    assert {ops[n] for n in names} >= {"Conv", "Sigmoid", "Mul"}
    first_conv = next(n.name for n in graph.graph.node if n.op_type == "Conv")
    assert first_conv in names


def test_head_role_is_the_nine_prediction_convs_and_everything_after(graph):
    names = set(fp32_nodes(graph, ("head_preds",)))
    convs = [n for n in graph.graph.node if n.name in names and n.op_type == "Conv"]
    # 3 strides x (box, objectness, class); their kernels are 1x1 with 4, 1 and 80 outputs.
    inits = {t.name: t.dims for t in graph.graph.initializer}
    assert sorted(inits[c.input[1]][0] for c in convs) == [1, 1, 1, 4, 4, 4, 80, 80, 80]
    producer = {o: n.name for n in graph.graph.node for o in n.output}
    assert producer[graph.graph.output[0].name] in names  # the output is computed in float
    assert fp32_nodes(graph, ()) == []


def _group(node):
    return next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == "group"), 1)


def test_depthwise_role_is_the_grouped_convs_with_their_silus_and_the_silus_feeding_them(graph):
    names = set(fp32_nodes(graph, ("depthwise",)))
    nodes = {n.name: n for n in graph.graph.node}
    convs = [nodes[n] for n in names if nodes[n].op_type == "Conv"]
    # YOLOX-nano: 30 depthwise 3x3 convs; no dense conv is kept float by this role.
    assert len(convs) == 30 and all(_group(c) > 1 for c in convs)
    sigmoids = [n for n in names if nodes[n].op_type == "Sigmoid"]
    muls = [n for n in names if nodes[n].op_type == "Mul"]
    assert len(sigmoids) == len(muls) > 30  # their own SiLUs and some of the SiLUs before them
    assert {nodes[n].op_type for n in names} == {"Conv", "Sigmoid", "Mul"}
    # every kept SiLU either follows a depthwise conv or feeds nothing but depthwise convs
    producer = {o: n for n in graph.graph.node for o in n.output}
    readers = {}
    for n in graph.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    for m in muls:
        src = producer[next(i for i in nodes[m].input if producer[i].op_type == "Conv")]
        after_dw = _group(src) > 1
        feeds_dw = all(r.op_type == "Conv" and _group(r) > 1 for r in readers[nodes[m].output[0]])
        assert after_dw or feeds_dw, m


def test_silu_role_is_every_conv_silu_and_no_conv(graph):
    names = set(fp32_nodes(graph, ("silu",)))
    ops = [n.op_type for n in graph.graph.node if n.name in names]
    # 104 conv+SiLU layers; the 6 Sigmoids of the head's objectness/class outputs are not SiLUs.
    assert ops.count("Mul") == ops.count("Sigmoid") == 104 and set(ops) == {"Sigmoid", "Mul"}


def test_float_silus_fused_into_one_op_compute_the_same(graph):
    import onnxruntime as ort

    keep = fp32_nodes(graph, ("stem", "depthwise"))
    copy = onnx.ModelProto()
    copy.CopyFrom(graph)
    fused, kept = fuse_float_silus(copy, keep)
    ops = [n.op_type for n in fused.graph.node]
    n_silu = sum(n.op_type == "Mul" and n.name in keep for n in graph.graph.node)
    # 30 after depthwise convs, 23 feeding only depthwise convs (the stem's among them: dark2 starts with one)
    assert ops.count("QuickGelu") == n_silu == 53
    assert ops.count("Sigmoid") == 110 - n_silu and len(kept) == len(keep) - n_silu
    assert {n.name for n in fused.graph.node} >= set(kept)
    x = np.random.default_rng(1).uniform(0, 255, (1, 3, 416, 416)).astype(np.float32)
    runs = [
        ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"images": x}
        )[0]
        for m in (graph, fused)
    ]
    assert np.abs(runs[0] - runs[1]).max() < 1e-3


def test_unknown_role_and_bad_precision_are_refused(model_path):
    with pytest.raises(ValueError, match="keep_fp32"):
        QuantSettings(keep_fp32=("neck",))
    with pytest.raises(ValueError, match="precision"):
        DetectorConfig(model_path=str(model_path), precision="int4")
    with pytest.raises(ValueError, match="int8 runs on the onnxruntime"):
        DetectorConfig(model_path=str(model_path), precision="int8", backend="torch")
    for backend in ("torch", "onnxruntime"):
        with pytest.raises(ValueError, match="fp16 needs CUDA"):
            create_detector(
                DetectorConfig(model_path=str(model_path), backend=backend, device="cpu", precision="fp16")
            )


def test_precision_field_declares_its_choices():
    field = {f.name: f for f in dataclasses.fields(DetectorConfig)}["precision"]
    meta = meta_of(field)
    assert meta is not None and "int8" in meta.description
    assert all(meta_of(f) is not None for f in dataclasses.fields(DetectorConfig))


def test_cache_key_changes_with_each_input(model_path, tmp_path):
    calib = CalibrationSet(video_frames=2).resolved()
    key, manifest = cache_key(model_path, calib, QuantSettings(), 416)
    assert manifest["calibration"]["frames"] == [8, 24] and manifest["recipe"] == RECIPE_VERSION
    assert key == cache_key(model_path, calib, QuantSettings(), 416)[0]
    assert key != cache_key(model_path, calib, QuantSettings(per_channel=False), 416)[0]
    assert key != cache_key(model_path, calib, QuantSettings(), 320)[0]
    assert key != cache_key(model_path, dataclasses.replace(calib, video_frames=3), QuantSettings(), 416)[0]
    other = tmp_path / "m.onnx"
    other.write_bytes(model_path.read_bytes() + b"\0")
    assert key != cache_key(other, calib, QuantSettings(), 416)[0]


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "lepton_perception" / "int8"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert "shared" not in default_cache_dir().parts


def test_missing_calibration_video_is_a_clear_error(model_path, tmp_path):
    with pytest.raises(FileNotFoundError, match="calibration video"):
        ensure_int8_model(model_path, 416, calib=CalibrationSet(video=str(tmp_path / "none.avi")))


def test_int8_detector_built_once_then_cached_and_close_to_fp32(
    model_path, images, ort_detector, tmp_path, caplog, capsys
):
    calib = CalibrationSet(video_frames=6)
    with caplog.at_level(logging.INFO):
        first = ensure_int8_model(model_path, 416, calib=calib, cache_dir=tmp_path)
        again = ensure_int8_model(model_path, 416, calib=calib, cache_dir=tmp_path)
    assert first.built and not again.built and first.path == again.path
    assert capsys.readouterr().out == ""  # the calibrators' progress prints do not reach stdout
    assert "not cached: quantising" in caplog.text and "int8 model from cache" in caplog.text
    int8 = onnx.load(str(first.path))
    assert sum(n.op_type == "QuantizeLinear" for n in int8.graph.node) > 50
    # default settings: the depthwise convs read float weights (an initializer, no DequantizeLinear),
    # the dense convs int8 ones; the SiLUs are fused float QuickGelu ops, none is quantised
    inits = {t.name for t in int8.graph.initializer}
    convs = [n for n in int8.graph.node if n.op_type == "Conv"]
    assert sum(_group(c) > 1 and c.input[1] in inits for c in convs) == 30
    assert sum(_group(c) == 1 and c.input[1] in inits for c in convs) == 10  # the stem and 9 predictions
    assert sum(n.op_type == "QuickGelu" for n in int8.graph.node) == 104
    assert first.path.with_suffix(".json").is_file()
    det8 = OnnxRuntimeDetector(
        DetectorConfig(model_path=str(model_path), device="cpu", precision="int8"), model_file=first.path
    )
    assert det8.precision == "int8" and det8.batched
    batch = list(images.values())
    matched = reference = 0
    for ref, got in zip(ort_detector.detect(batch), det8.detect(batch)):
        a = box_agreement(ref.boxes, ref.class_ids, got.boxes, got.class_ids, 0.5)
        matched, reference = matched + a.matched, reference + a.reference
    # A sanity bound for a 10-image calibration; the full set is measured by `lepton eval detection`.
    assert reference > 5 and matched >= 0.6 * reference
    t = det8.last_timings_ms
    assert t.preprocess > 0 and t.inference > 0 and t.postprocess > 0


@pytest.mark.parametrize(
    ("ref", "got", "ref_cls", "got_cls", "iou", "expected"),
    [
        # identical boxes, same class: all matched
        (
            [[0, 0, 10, 10], [20, 20, 30, 30]],
            [[0, 0, 10, 10], [20, 20, 30, 30]],
            [0, 2],
            [0, 2],
            0.7,
            (2, 2, 0),
        ),
        # same place, other class: no match, one extra
        ([[0, 0, 10, 10]], [[0, 0, 10, 10]], [0], [2], 0.7, (0, 1, 1)),
        # IoU 0.81 (shifted 1 px of 10): matched at 0.7, not at 0.9
        ([[0, 0, 10, 10]], [[1, 0, 11, 10]], [0], [0], 0.7, (1, 1, 0)),
        ([[0, 0, 10, 10]], [[1, 0, 11, 10]], [0], [0], 0.9, (0, 1, 1)),
        # one detection cannot match two reference boxes
        ([[0, 0, 10, 10], [0, 0, 10, 10]], [[0, 0, 10, 10]], [0, 0], [0], 0.7, (1, 2, 0)),
        # nothing found by the reference: share 1.0, the other's boxes are extra
        (np.zeros((0, 4)), [[0, 0, 10, 10]], [], [0], 0.7, (0, 0, 1)),
    ],
)
def test_box_agreement(ref, got, ref_cls, got_cls, iou, expected):
    a = box_agreement(ref, ref_cls, got, got_cls, iou)
    assert (a.matched, a.reference, a.extra) == expected
    assert a.share == (1.0 if a.reference == 0 else a.matched / a.reference)
