# ruff: noqa: RUF009  (``param`` returns a dataclasses.field; ruff cannot see that through Literal fields)
"""The detector seam: configuration, the ``Detector`` protocol and model-file checks."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

from lepton_perception.core.schema import param
from lepton_perception.core.types import COCO_CLASSES, Category, Detections

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model file is missing, unreadable, truncated or not the expected architecture."""


class DeviceUnavailableError(RuntimeError):
    """The requested device (``cuda``, ``cuda:N``) cannot run the detector on this machine."""


Precision = Literal["auto", "fp32", "fp16", "int8"]
Backend = Literal["auto", "torch", "onnxruntime"]


@dataclass(frozen=True)
class DetectorConfig:
    model_path: str = param(
        "../shared/models/yolox_nano.onnx",
        'YOLOX ONNX weights; "" = $LEPTON_SHARED/models/yolox_nano.onnx (../shared)',
    )
    backend: Backend = param(
        "auto", '"auto": onnxruntime on CPU, torch on CUDA (falls back to the other if it fails to load)'
    )
    device: str = param("auto", '"auto" (cuda when present), "cpu", "cuda", "cuda:N"')
    precision: Precision = param(
        "auto",
        '"auto": fp16 on CUDA, fp32 on CPU; "fp16" needs CUDA; "int8": onnxruntime on CPU with the'
        " statically quantised model (built and cached on first use, see docs/detector.md)",
    )
    input_size_px: int = param(
        416,
        "square network input; images are letterboxed into it (multiple of 32)",
        unit="px",
        lo=64,
        hi=2048,
    )
    nms_iou: float = param(0.45, "class-aware NMS overlap threshold", lo=0.01, hi=1.0, live=True)
    score_threshold_pedestrian: float = param(
        0.3, "minimum score (objectness x class probability) for people", lo=0.0, hi=1.0, live=True
    )
    score_threshold_cyclist: float = param(
        0.3, "minimum score for bicycles and motorcycles", lo=0.0, hi=1.0, live=True
    )
    score_threshold_vehicle: float = param(
        0.3, "minimum score for cars, buses, trucks (and other kept classes)", lo=0.0, hi=1.0, live=True
    )
    class_ids: tuple[int, ...] = param(tuple(sorted(COCO_CLASSES)), "COCO class ids kept", lo=0, hi=79)
    max_detections: int = param(300, "most detections per image after NMS", lo=1, hi=10000, live=True)
    cpu_threads: int = param(0, "CPU threads of the detector (0: library default)", lo=0, hi=256)
    compile: bool = param(
        False, "torch backend: torch.compile the network (slow first call, needs a C++ compiler)"
    )
    max_batch: int = param(8, "onnxruntime TensorRT: largest batch its engine profile covers", lo=1, hi=256)
    trt_cache_dir: str = param(
        "~/.cache/lepton_perception/trt", "onnxruntime TensorRT engine cache directory"
    )
    int8_cache_dir: str = param(
        "", 'directory of cached int8 models; "" = $XDG_CACHE_HOME/lepton_perception/int8 (or ~/.cache/...)'
    )

    def __post_init__(self) -> None:
        if self.backend not in get_args(Backend):
            raise ValueError(f"unknown detector backend {self.backend!r}")
        if self.precision not in get_args(Precision):
            raise ValueError(
                f"unknown detector precision {self.precision!r}; choose from {get_args(Precision)}"
            )
        if self.precision == "int8" and self.backend == "torch":
            raise ValueError("precision int8 runs on the onnxruntime backend, not torch")
        if self.input_size_px % 32 != 0 or self.input_size_px <= 0:
            raise ValueError(f"input_size_px must be a positive multiple of 32, got {self.input_size_px}")
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch}")
        if not 0.0 < self.nms_iou <= 1.0:
            raise ValueError(f"nms_iou must be in (0, 1], got {self.nms_iou}")

    @property
    def fp16(self) -> bool:
        """Half precision wanted where CUDA runs it (``auto`` and ``fp16``)."""
        return self.precision in ("auto", "fp16")

    def score_thresholds(self) -> npt.NDArray[np.float32]:
        """(80,) per-COCO-class minimum score; classes not kept get +inf."""
        per_cat = {
            Category.PEDESTRIAN: self.score_threshold_pedestrian,
            Category.CYCLIST: self.score_threshold_cyclist,
            Category.VEHICLE: self.score_threshold_vehicle,
        }
        th = np.full(80, np.inf, dtype=np.float32)
        for cid in self.class_ids:
            cat = COCO_CLASSES[cid][1] if cid in COCO_CLASSES else Category.UNKNOWN
            th[cid] = per_cat.get(cat, self.score_threshold_vehicle)
        return th


# DetectorConfig fields that only filter the network's output: safe to change between two calls.
FILTER_FIELDS = (
    "score_threshold_pedestrian",
    "score_threshold_cyclist",
    "score_threshold_vehicle",
    "nms_iou",
    "max_detections",
)


def with_filter(current: DetectorConfig, new: DetectorConfig) -> DetectorConfig:
    """``current`` with the output-filter settings of ``new`` (everything else unchanged)."""
    return replace(current, **{f: getattr(new, f) for f in FILTER_FIELDS})


@dataclass(frozen=True)
class StageTimings:
    """Wall time of the stages of one ``detect()`` call, milliseconds (the whole batch)."""

    preprocess: float = 0.0  # letterbox, layout/dtype conversion, upload
    inference: float = 0.0  # the network
    postprocess: float = 0.0  # decode, score filter, NMS, boxes back to image pixels

    @property
    def total(self) -> float:
        return self.preprocess + self.inference + self.postprocess


class Detector(Protocol):
    """Image batch -> one ``Detections`` per image, boxes in each image's own pixels."""

    name: str  # backend name, e.g. "onnxruntime"
    device: str  # where it runs, e.g. "cpu", "cuda:0"
    precision: str  # what the network runs in: "fp32", "fp16" or "int8"
    last_timings_ms: StageTimings  # stages of the latest detect() call (zeros before the first)

    def detect(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        """``images``: BGR uint8 arrays (H, W, 3) of any sizes."""
        ...

    def update_filter(self, config: DetectorConfig) -> None:
        """Apply ``config``'s FILTER_FIELDS from the next call on; the network is not touched."""
        ...


def check_model_file(path: str | Path, min_bytes: int = 1024) -> Path:
    """Fail early, naming the file, when it is missing or obviously truncated."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelLoadError(f"model file {p} does not exist")
    size = p.stat().st_size
    if size < min_bytes:
        raise ModelLoadError(f"model file {p} is truncated or empty ({size} bytes)")
    return p


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_onnx(path: str | Path) -> tuple[Path, onnx.ModelProto]:
    """Parse an ONNX file; missing, truncated or corrupt files raise ``ModelLoadError`` naming it.

    Lives here, not beside the torch weight mapping, so the onnxruntime fallback never imports torch.
    """
    import onnx  # lazily: every CLI command imports this module for DetectorConfig

    p = check_model_file(path)
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # protobuf DecodeError and friends
        raise ModelLoadError(
            f"model file {p} is truncated or not a valid ONNX protobuf ({p.stat().st_size} bytes): {exc}"
        ) from exc
    if len(model.graph.node) == 0:
        raise ModelLoadError(f"model file {p} parsed as ONNX but holds no graph nodes (corrupt or truncated)")
    return p, model
