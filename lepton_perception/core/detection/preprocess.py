"""Letterboxing: any image size into the square network input, and boxes back, exactly."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

PAD_VALUE = 114  # YOLOX training pad colour


@dataclass(frozen=True)
class Letterbox:
    """How one image was placed into the network input: scaled by ``scale``, top-left aligned."""

    scale: float  # network px per image px
    width: int  # original image size, px
    height: int

    def boxes_to_image(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(N, 4) network-input xyxy -> original-image xyxy, clipped to the image."""
        out = boxes / self.scale
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, self.width)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, self.height)
        return out.astype(np.float32)


def letterbox(
    image: npt.NDArray[np.uint8], size: int, out: npt.NDArray[np.uint8] | None = None
) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """Resize ``image`` (H, W, 3) keeping aspect ratio into a (size, size, 3) canvas padded with 114.

    YOLOX places the image at the top-left corner (no centring), so un-letterboxing is a division.
    ``out`` may be a preallocated canvas to avoid a per-frame allocation.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected a non-empty (H, W, 3) image, got shape {image.shape}")
    h, w = image.shape[:2]
    scale = min(size / h, size / w)
    nh, nw = min(size, round(h * scale)), min(size, round(w * scale))
    canvas = out if out is not None else np.empty((size, size, 3), np.uint8)
    canvas.fill(PAD_VALUE)
    interp = cv2.INTER_LINEAR if scale != 1.0 else cv2.INTER_NEAREST
    canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    return canvas, Letterbox(scale=scale, width=w, height=h)
