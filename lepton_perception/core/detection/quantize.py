"""Static int8 quantisation of the YOLOX ONNX model with ``onnxruntime.quantization``, cached by content.

The int8 model is a function of three inputs, and its cache file is named by a hash of all three:

* the fp32 model file (sha256 of its bytes),
* the calibration set: the source files (sha256 of the video and each image) and which frames are taken,
* the quantisation settings (format, per-channel, calibration method, nodes kept in fp32), plus the
  network input size, the onnxruntime version (its quantiser decides the graph it writes) and
  ``RECIPE_VERSION`` (this module's own graph rewriting).

Calibration inputs are letterboxed by the runtime's own ``letterbox`` and converted like the runtime's
input (uint8 HWC BGR -> float32 NCHW 0..255), so the activation ranges are those the detector will see.
The cache lives in the user's cache directory (``$XDG_CACHE_HOME/lepton_perception/int8`` or
``~/.cache/lepton_perception/int8``), never beside the shared data. Writes are atomic (temporary file,
then rename), so two processes quantising at once both end with a complete file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from onnxruntime.quantization import CalibrationDataReader

from lepton_perception.core.detection.base import ModelLoadError, load_onnx, sha256_of
from lepton_perception.core.detection.preprocess import letterbox
from lepton_perception.paths import shared_dir

log = logging.getLogger(__name__)

# Parts of the graph that may be kept in float (``QuantSettings.keep_fp32``):
#   "stem": the Focus space-to-depth and first conv (+ SiLU) on the full-resolution input;
#   "head_preds": the final 1x1 prediction convs (box, objectness, class; the only convs without SiLU) and
#     everything after them (sigmoids, the concat of boxes with probabilities, reshape, transpose);
#   "resize": the neck's nearest-neighbour upsampling.
#   "head": the whole decoupled head: "head_preds" and the convs that feed only it (stems, cls/reg convs).
#   "depthwise": the 3x3 depthwise convs, their SiLUs and the SiLUs feeding only them (onnxruntime's
#     int8 depthwise kernel is slower than its fp32 one on AVX-512, docs/detector.md);
#   "silu": every conv's SiLU (Sigmoid + Mul): the convs stay int8, the activations run in float.
FP32_ROLES = ("stem", "head_preds", "head", "resize", "depthwise", "silu")

# Version of the graph rewriting done here (role definitions, SiLU fusion); part of the cache key, so
# a changed recipe never reuses a file written by an older one. 2: float SiLUs fused into QuickGelu.
RECIPE_VERSION = 2


@dataclass(frozen=True)
class QuantSettings:
    """How the model is quantised; every field is part of the cache key.

    Defaults (docs/detector.md, "int8"): ranges clipped at the 99.99th percentile (plain min/max lets
    rare large activations stretch the scales: 64 % of fp32 boxes reproduced); float kept where one of
    two fixed rules says so, not where a benchmark frame happens to improve:
    * accuracy: the stem (raw pixel input) and the prediction layers (log-space box offsets, logits);
    * speed: every op type whose int8 kernel the onnxruntime profile shows slower than its float kernel
      on this CPU class (``lepton quantize --profile-runs``): the depthwise convs (1.8-2.3x slower in
      int8) and the SiLUs (two int8 passes, ``QLinearSigmoid`` + ``QLinearMul``: 1.9-2.0x the fused
      float ``QuickGelu``).
    What stays int8 are the dense 1x1 convs, where the VNNI kernels are 2.3-2.5x faster.
    """

    quant_format: Literal["qdq", "qoperator"] = "qdq"
    per_channel: bool = True  # one weight scale per output channel (depthwise convs need it)
    reduce_range: bool = False  # 7-bit weights: only for CPUs without VNNI (overflow in u8s8 dot products)
    calibration: Literal["minmax", "entropy", "percentile"] = "percentile"
    percentile: float = 99.99  # "percentile": share of each activation's |values| inside its range, %
    moving_average: bool = False  # "minmax": average the per-image min/max instead of the extremes
    keep_fp32: tuple[str, ...] = ("stem", "head_preds", "depthwise", "silu")  # FP32_ROLES left float

    def __post_init__(self) -> None:
        unknown = set(self.keep_fp32) - set(FP32_ROLES)
        if unknown:
            raise ValueError(f"unknown keep_fp32 roles {sorted(unknown)}; choose from {FP32_ROLES}")


@dataclass(frozen=True)
class CalibrationSet:
    """Frames ``video_offset + k * video_stride`` (k < ``video_frames``) of a video, plus still images.

    The default offset/stride never hit the hand-checked PETS frames (multiples of 50), so calibration
    and the person evaluation use different frames.
    """

    video: str = ""  # "" = shared data/video/pets09_s2l1_vtest.avi
    images_dir: str = ""  # "" = shared data/images (every .jpg/.png in it)
    video_offset: int = 8
    video_stride: int = 16
    video_frames: int = 48
    images: tuple[str, ...] = field(default=())  # filled by ``resolved``

    def resolved(self) -> CalibrationSet:
        """Concrete paths (shared defaults filled in, image list sorted) that are checked to exist."""
        video = Path(self.video or shared_dir() / "data" / "video" / "pets09_s2l1_vtest.avi")
        images_dir = Path(self.images_dir or shared_dir() / "data" / "images")
        if not video.is_file():
            raise FileNotFoundError(f"calibration video {video} does not exist")
        imgs = tuple(sorted(str(p) for p in images_dir.glob("*") if p.suffix.lower() in (".jpg", ".png")))
        if not imgs:
            raise FileNotFoundError(f"no calibration images (.jpg/.png) in {images_dir}")
        return CalibrationSet(
            str(video), str(images_dir), self.video_offset, self.video_stride, self.video_frames, imgs
        )

    def frame_indices(self) -> list[int]:
        return [self.video_offset + k * self.video_stride for k in range(self.video_frames)]

    def fingerprint(self) -> dict[str, Any]:
        """Content hashes of every source file and the frame selection (for the cache key)."""
        return {
            "video": sha256_of(Path(self.video)),
            "frames": self.frame_indices(),
            "images": [sha256_of(Path(p)) for p in self.images],
        }


def read_frames(video: str | Path, indices: Sequence[int]) -> list[npt.NDArray[np.uint8]]:
    """BGR frames at ``indices`` (decode order) of ``video``; fails if the video is shorter."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {video}")
    wanted, index = set(indices), 0
    out: list[npt.NDArray[np.uint8]] = []
    try:
        while len(out) < len(wanted):
            ok, frame = cap.read()
            if not ok:
                raise ValueError(f"video {video} ended at frame {index}, before frame {max(wanted)}")
            if index in wanted:
                out.append(np.asarray(frame, np.uint8))
            index += 1
    finally:
        cap.release()
    return out


def calibration_images(calib: CalibrationSet) -> list[npt.NDArray[np.uint8]]:
    """The calibration set's BGR images: the chosen video frames, then the still images."""
    images = read_frames(calib.video, calib.frame_indices())
    for path in calib.images:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"calibration image {path} is unreadable")
        images.append(np.asarray(img, np.uint8))
    return images


def network_input(image: npt.NDArray[np.uint8], size: int) -> npt.NDArray[np.float32]:
    """(1, 3, S, S) float32 0..255 exactly as the onnxruntime detector feeds the network."""
    canvas, _ = letterbox(image, size)
    return canvas.transpose(2, 0, 1)[None].astype(np.float32)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lepton_perception" / "int8"


def cache_key(
    model: Path, calib: CalibrationSet, settings: QuantSettings, size: int
) -> tuple[str, dict[str, Any]]:
    """(hex key, the manifest it hashes). ``calib`` must be ``resolved()``."""
    import onnxruntime

    manifest = {
        "recipe": RECIPE_VERSION,
        "model_sha256": sha256_of(model),
        "calibration": calib.fingerprint(),
        "settings": asdict(settings),
        "input_size_px": size,
        "onnxruntime": onnxruntime.__version__,
    }
    blob = json.dumps(manifest, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20], manifest


def fp32_nodes(model: Any, roles: Sequence[str]) -> list[str]:
    """Names of the nodes of the (pre-processed) graph that the ``roles`` keep in float."""
    graph = _Graph(list(model.graph.node))
    keep: list[str] = []
    for role in roles:
        keep += _ROLE_NODES[role](graph)
    return sorted(set(keep))


@dataclass(frozen=True)
class _Graph:
    """The node list (graph order) with, per tensor name, the nodes that read it."""

    nodes: list[Any]
    consumers: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for n in self.nodes:
            for name in n.input:
                self.consumers.setdefault(name, []).append(n)

    def users(self, node: Any) -> list[Any]:
        return [c for out in node.output for c in self.consumers.get(out, [])]

    def silu_of(self, conv: Any) -> list[Any]:
        """The Sigmoid and Mul of the SiLU ``x * sigmoid(x)`` applied to ``conv``'s output, or []."""
        users = self.users(conv)
        sig = [c for c in users if c.op_type == "Sigmoid"]
        mul = [c for c in users if c.op_type == "Mul" and any(s.output[0] in c.input for s in sig)]
        return [*sig, *mul] if mul else []


def _is_depthwise(node: Any) -> bool:
    from onnx import helper

    groups = [helper.get_attribute_value(a) for a in node.attribute if a.name == "group"]
    return node.op_type == "Conv" and bool(groups) and groups[0] > 1


def _stem_nodes(g: _Graph) -> list[str]:
    """Everything up to and including the first conv's SiLU (Sigmoid + Mul)."""
    first = next(i for i, n in enumerate(g.nodes) if n.op_type == "Conv")
    return [n.name for n in g.nodes[: first + 1]] + [c.name for c in g.silu_of(g.nodes[first])]


def _head_pred_nodes(g: _Graph) -> list[str]:
    """Convs not followed by a SiLU's Mul (the prediction layers) and every node after them."""
    preds = [n for n in g.nodes if n.op_type == "Conv" and not any(c.op_type == "Mul" for c in g.users(n))]
    return [n.name for n in _downstream(preds, g.consumers)]


def _head_nodes(g: _Graph) -> list[str]:
    return _exclusive_feeders(g.nodes, g.consumers, set(_head_pred_nodes(g)))


def _depthwise_nodes(g: _Graph) -> list[str]:
    """The depthwise (grouped) convs with their own SiLUs, and the SiLUs that feed only them.

    A float island costs one dequantise at its entry and one quantise at its exit wherever it starts;
    starting it before the SiLU that feeds the depthwise conv runs that SiLU as onnxruntime's fused float
    ``QuickGelu`` instead of two int8 ops (``QLinearSigmoid`` + ``QLinearMul``, slower here).
    """
    depthwise = [n for n in g.nodes if _is_depthwise(n)]
    keep = {m.name for n in depthwise for m in (n, *g.silu_of(n))}
    for n in g.nodes:
        silu = g.silu_of(n) if n.op_type == "Conv" else []
        mul = [m for m in silu if m.op_type == "Mul"]
        if mul and all(_is_depthwise(c) for c in g.users(mul[0])):
            keep.update(m.name for m in silu)
    return sorted(keep)


def _silu_nodes(g: _Graph) -> list[str]:
    """Every SiLU (the Sigmoid and Mul after a conv): the convs stay int8, activations run float."""
    return [m.name for n in g.nodes if n.op_type == "Conv" for m in g.silu_of(n)]


def _resize_nodes(g: _Graph) -> list[str]:
    return [n.name for n in g.nodes if n.op_type in ("Resize", "Upsample")]


_ROLE_NODES = {
    "stem": _stem_nodes,
    "head_preds": _head_pred_nodes,
    "head": _head_nodes,
    "resize": _resize_nodes,
    "depthwise": _depthwise_nodes,
    "silu": _silu_nodes,
}


def _exclusive_feeders(nodes: Sequence[Any], consumers: dict[str, list[Any]], seed: set[str]) -> list[str]:
    """``seed`` grown by every Conv/Sigmoid/Mul whose outputs feed only nodes already in the set."""
    keep = set(seed)
    grown = True
    while grown:
        grown = False
        for n in nodes:
            if n.name in keep or n.op_type not in ("Conv", "Sigmoid", "Mul"):
                continue
            users = [c for out in n.output for c in consumers.get(out, [])]
            if users and all(c.name in keep for c in users):
                keep.add(n.name)
                grown = True
    return sorted(keep)


def _downstream(start: Sequence[Any], consumers: dict[str, list[Any]]) -> list[Any]:
    """``start`` nodes and every node fed, directly or not, by their outputs (graph order not kept)."""
    seen: dict[str, Any] = {}
    todo = list(start)
    while todo:
        node = todo.pop()
        if node.name in seen:
            continue
        seen[node.name] = node
        for out in node.output:
            todo.extend(consumers.get(out, []))
    return list(seen.values())


def fuse_float_silus(model: Any, keep: Sequence[str]) -> tuple[Any, list[str]]:
    """``model`` with each SiLU kept float (Sigmoid and Mul both in ``keep``) as one ``QuickGelu``.

    onnxruntime fuses ``x * sigmoid(x)`` into its ``QuickGelu`` kernel only when both read the same
    tensor; inside a quantised graph that tensor comes out of a ``DequantizeLinear``, which the runtime
    first duplicates per consumer (one DQ per node unit), so the fusion no longer matches and the float
    SiLU runs as two passes. Fusing here, before quantising, keeps it one pass. The ``QuickGelu`` node
    takes the Mul's name, so the returned ``keep`` list still names it (the Sigmoids are gone).
    """
    from onnx import helper

    keep_set = set(keep)
    producer = {out: n for n in model.graph.node for out in n.output}
    uses = Counter(name for n in model.graph.node for name in n.input)
    fused: dict[str, Any] = {}  # Mul name -> QuickGelu node
    dropped: set[str] = set()
    for n in model.graph.node:
        sig = _silu_sigmoid(n, producer)
        if sig is None or uses[sig.output[0]] != 1 or not {n.name, sig.name} <= keep_set:
            continue
        fused[n.name] = helper.make_node(
            "QuickGelu", [sig.input[0]], [n.output[0]], name=n.name, domain="com.microsoft", alpha=1.0
        )
        dropped.add(sig.name)
    nodes = [fused.get(n.name, n) for n in model.graph.node if n.name not in dropped]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if fused and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model, sorted(keep_set - dropped)


def _silu_sigmoid(mul: Any, producer: dict[str, Any]) -> Any | None:
    """The Sigmoid of ``mul`` when ``mul`` is ``x * sigmoid(x)``."""
    if mul.op_type != "Mul" or len(mul.input) != 2:
        return None
    for a, b in (mul.input, reversed(mul.input)):
        sig = producer.get(b)
        if sig is not None and sig.op_type == "Sigmoid" and sig.input[0] == a:
            return sig
    return None


class _Reader(CalibrationDataReader):
    """One letterboxed image per call."""

    def __init__(self, input_name: str, images: Sequence[npt.NDArray[np.uint8]], size: int) -> None:
        self._items: Iterator[npt.NDArray[np.uint8]] = iter(images)
        self._name, self._size = input_name, size

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        img = next(self._items, None)
        return None if img is None else {self._name: network_input(img, self._size)}


def _float_graph(model_path: Path, workdir: Path) -> tuple[Path, str]:
    """Dynamic-batch, opset-13 (per-channel DequantizeLinear needs ``axis``), shape-inferred fp32 graph."""
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from lepton_perception.core.detection.onnx_backend import make_batch_dynamic

    _, model = load_onnx(model_path)
    dyn = make_batch_dynamic(model)
    if dyn is None:
        raise ModelLoadError(f"model file {model_path}: batch cannot be made dynamic; not quantising it")
    if max(o.version for o in dyn.opset_import if o.domain in ("", "ai.onnx")) < 13:
        dyn = version_converter.convert_version(dyn, 13)
    src, pre = workdir / "fp32.onnx", workdir / "fp32_pre.onnx"
    import onnx

    onnx.save(dyn, str(src))
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    return pre, dyn.graph.input[0].name


def quantize(
    model_path: Path,
    out_path: Path,
    images: Sequence[npt.NDArray[np.uint8]],
    settings: QuantSettings,
    size: int,
) -> None:
    """Write the int8 model of ``model_path`` calibrated on ``images`` (BGR) to ``out_path`` atomically."""
    import onnx

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lepton-quant-", dir=out_path.parent) as tmp:
        pre, input_name = _float_graph(model_path, Path(tmp))
        graph = onnx.load(str(pre))
        graph, exclude = fuse_float_silus(graph, fp32_nodes(graph, settings.keep_fp32))
        onnx.save(graph, str(pre))
        staged = Path(tmp) / "int8.onnx"
        # The calibrators print progress to stdout, which would corrupt `--json` output and a node's
        # stdout; it goes to the debug log instead.
        chatter = io.StringIO()
        with contextlib.redirect_stdout(chatter):
            _quantize_static(pre, staged, _Reader(input_name, images, size), settings, exclude)
        log.debug("onnxruntime quantiser: %s", chatter.getvalue().strip())
        os.replace(staged, out_path)


def _quantize_static(
    src: Path, dst: Path, reader: CalibrationDataReader, settings: QuantSettings, exclude: list[str]
) -> None:
    from onnxruntime import quantization as q

    fmt = {"qdq": q.QuantFormat.QDQ, "qoperator": q.QuantFormat.QOperator}[settings.quant_format]
    method = {
        "minmax": q.CalibrationMethod.MinMax,
        "entropy": q.CalibrationMethod.Entropy,
        "percentile": q.CalibrationMethod.Percentile,
    }[settings.calibration]
    q.quantize_static(
        str(src),
        str(dst),
        reader,
        quant_format=fmt,
        per_channel=settings.per_channel,
        reduce_range=settings.reduce_range,
        activation_type=q.QuantType.QUInt8,  # u8 activations x s8 weights: the VNNI/AVX-512 kernels
        weight_type=q.QuantType.QInt8,
        nodes_to_exclude=exclude,
        calibrate_method=method,
        extra_options={
            "CalibPercentile": settings.percentile,
            "CalibMovingAverage": settings.moving_average,
        },
    )


@dataclass(frozen=True)
class Int8Model:
    path: Path
    key: str
    built: bool  # True when this call quantised it (cache miss)


def ensure_int8_model(
    model_path: str | Path,
    size: int,
    *,
    calib: CalibrationSet | None = None,
    settings: QuantSettings | None = None,
    cache_dir: str | Path = "",
    rebuild: bool = False,
) -> Int8Model:
    """The cached int8 model for these inputs, quantising it first when it is missing (logged)."""
    model = Path(model_path).expanduser()
    calib = (calib or CalibrationSet()).resolved()
    settings = settings or QuantSettings()
    key, manifest = cache_key(model, calib, settings, size)
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    out = cache / f"{model.stem}-int8-{key}.onnx"
    if out.is_file() and not rebuild:
        log.info("int8 model from cache: %s", out)
        return Int8Model(out, key, built=False)
    log.info(
        "int8 model for %s not cached: quantising (%d video frames + %d images, %s) -> %s",
        model,
        calib.video_frames,
        len(calib.images),
        settings,
        out,
    )
    quantize(model, out, calibration_images(calib), settings, size)
    out.with_suffix(".json").write_text(json.dumps({"key": key, **manifest}, indent=2) + "\n")
    return Int8Model(out, key, built=True)
