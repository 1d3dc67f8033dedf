"""The detector seam: configuration, the ``Detector`` protocol and model-file checks."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from lepton_perception.core.types import COCO_CLASSES, Category, Detections

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model file is missing, unreadable, truncated or not the expected architecture."""


@dataclass(frozen=True)
class DetectorConfig:
    model_path: str = "../shared/models/yolox_nano.onnx"
    backend: str = "auto"  # "auto" (torch if it loads, else onnxruntime), "torch", "onnxruntime"
    device: str = "auto"  # "auto" (cuda when present), "cpu", "cuda", "cuda:N"
    input_size_px: int = 416  # square network input; images are letterboxed into it
    fp16: bool = True  # half precision on CUDA (ignored on CPU)
    nms_iou: float = 0.45
    # Minimum score (objectness * class probability) per planning category.
    score_threshold_pedestrian: float = 0.3
    score_threshold_cyclist: float = 0.3
    score_threshold_vehicle: float = 0.3
    class_ids: tuple[int, ...] = field(default_factory=lambda: tuple(sorted(COCO_CLASSES)))
    max_detections: int = 300
    cpu_threads: int = 0  # 0: library default
    compile: bool = False  # torch backend: torch.compile the network (slow first call, needs a C++ compiler)
    max_batch: int = 8  # onnxruntime TensorRT: largest batch its engine profile covers
    trt_cache_dir: str = "~/.cache/lepton_perception/trt"  # onnxruntime TensorRT engine cache

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "torch", "onnxruntime"):
            raise ValueError(f"unknown detector backend {self.backend!r}")
        if self.input_size_px % 32 != 0 or self.input_size_px <= 0:
            raise ValueError(f"input_size_px must be a positive multiple of 32, got {self.input_size_px}")
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch}")
        if not 0.0 < self.nms_iou <= 1.0:
            raise ValueError(f"nms_iou must be in (0, 1], got {self.nms_iou}")

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


class Detector(Protocol):
    """Image batch -> one ``Detections`` per image, boxes in each image's own pixels."""

    name: str  # backend name, e.g. "onnxruntime"
    device: str  # where it runs, e.g. "cpu", "cuda:0"

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
