"""Letterboxing: any image size into the square network input, and boxes back, exactly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

PAD_VALUE = 114  # YOLOX training pad colour


@dataclass(frozen=True)
class Letterbox:
    """How one image was placed into the network input: resized to ``resized_w x resized_h``, top-left.

    The scale is kept per axis (``resized / original``): the resized size is rounded to whole pixels,
    so one common factor would be off by up to half a pixel of the resized image at the far edge.
    """

    width: int  # original image size, px
    height: int
    resized_w: int  # size of the image inside the network input, px
    resized_h: int

    @staticmethod
    def fit(width: int, height: int, size: int) -> Letterbox:
        """Largest aspect-preserving fit of a ``width x height`` image into a ``size`` square."""
        scale = min(size / height, size / width)
        # At least one pixel: a 1 x 2000 image would otherwise round to zero width.
        return Letterbox(
            width, height, max(1, min(size, round(width * scale))), max(1, min(size, round(height * scale)))
        )

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Network px per image px, (x, y)."""
        return self.resized_w / self.width, self.resized_h / self.height

    def boxes_to_image(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(N, 4) network-input xyxy -> original-image xyxy, clipped to the image."""
        sx, sy = self.scale_xy
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, [0, 2]] = np.clip(boxes[:, [0, 2]] / sx, 0, self.width)
        out[:, [1, 3]] = np.clip(boxes[:, [1, 3]] / sy, 0, self.height)
        return out

    def boxes_to_input(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(N, 4) original-image xyxy -> network-input xyxy (inverse of ``boxes_to_image``)."""
        sx, sy = self.scale_xy
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, [0, 2]] = boxes[:, [0, 2]] * sx
        out[:, [1, 3]] = boxes[:, [1, 3]] * sy
        return out


def letterbox(
    image: npt.NDArray[np.uint8], size: int, out: npt.NDArray[np.uint8] | None = None
) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """Resize ``image`` (H, W, 3) keeping aspect ratio into a (size, size, 3) canvas padded with 114.

    YOLOX places the image at the top-left corner (no centring), so un-letterboxing is a division.
    ``out`` may be a preallocated canvas to avoid a per-frame allocation.
    """
    _check(image)
    h, w = image.shape[:2]
    lb = Letterbox.fit(w, h, size)
    canvas = out if out is not None else np.empty((size, size, 3), np.uint8)
    _pad(canvas, lb.resized_w, lb.resized_h)
    _place(image, canvas, lb)
    return canvas, lb


class LetterboxBuffer:
    """Letterboxes a batch into reused (B, S, S, 3) uint8 canvases: one resize per image, nothing else.

    The padding is written only when a slot's placement changes (a camera's frames keep their size, so
    after the first frame only the image area is written). Grows to the largest batch seen.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._canvases = np.empty((0, size, size, 3), np.uint8)
        self._placed: list[tuple[int, int] | None] = []  # (resized_w, resized_h) last written per slot

    def __call__(
        self, images: Sequence[npt.NDArray[np.uint8]]
    ) -> tuple[npt.NDArray[np.uint8], list[Letterbox]]:
        """``images`` BGR (H, W, 3) uint8 -> (canvases (B, S, S, 3) view, letterbox per image)."""
        n, size = len(images), self.size
        if self._canvases.shape[0] < n:
            self._canvases = np.empty((n, size, size, 3), np.uint8)
            self._placed = [None] * n
        lbs = []
        for i, image in enumerate(images):
            _check(image, dtype=True)
            h, w = image.shape[:2]
            lb = Letterbox.fit(w, h, size)
            canvas = self._canvases[i]
            if self._placed[i] != (lb.resized_w, lb.resized_h):
                _pad(canvas, lb.resized_w, lb.resized_h)
                self._placed[i] = (lb.resized_w, lb.resized_h)
            _place(image, canvas, lb)
            lbs.append(lb)
        return self._canvases[:n], lbs


def _check(image: npt.NDArray[np.uint8], dtype: bool = False) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected a non-empty (H, W, 3) image, got shape {image.shape}")
    if dtype and image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype}")


def _pad(canvas: npt.NDArray[np.uint8], nw: int, nh: int) -> None:
    canvas[nh:] = PAD_VALUE
    canvas[:nh, nw:] = PAD_VALUE


def _place(image: npt.NDArray[np.uint8], canvas: npt.NDArray[np.uint8], lb: Letterbox) -> None:
    nw, nh = lb.resized_w, lb.resized_h
    if (nw, nh) == (lb.width, lb.height):
        canvas[:nh, :nw] = image
    else:
        # dst= a view of the canvas: cv2 writes the resized pixels in place (no temporary image).
        cv2.resize(image, (nw, nh), dst=canvas[:nh, :nw], interpolation=cv2.INTER_LINEAR)
