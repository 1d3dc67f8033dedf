"""Where detected objects stand on the road: the seam between image boxes and ground-plane positions.

The tracker asks a ``GroundLocator`` for the ground position of each matched or new-born box and
fuses it in its ground-plane filter; it never knows how the position was found or in which frame.
Implementations:

- ``BoxFootLocator``: the bottom-centre of the box intersected with the flat road of the vehicle
  frame (``base_link``), pixel noise proportional to the box height;
- richer monocular estimators (class size priors, centre offsets) and world-frame wrappers that
  apply the ego pose (``odom``) implement the same Protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from lepton_perception.core.camera import GroundProjector

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class GroundFix(NamedTuple):
    """Ground positions of N boxes in the locator's ``frame_id``; invalid rows are NaN."""

    xy_m: F64  # (N, 2) metres
    cov_m2: F64  # (N, 2, 2) metres^2
    valid: BoolArray  # (N,)


class GroundLocator(Protocol):
    """Image boxes -> ground positions with covariance, in the frame named by ``frame_id``."""

    @property
    def frame_id(self) -> str: ...

    def locate(self, boxes_xyxy: F64, class_ids: I64) -> GroundFix:
        """(N, 4) xyxy boxes in pixels and their (N,) COCO class ids -> N ground fixes."""
        ...


def no_fix(n: int) -> GroundFix:
    """N invalid fixes (no locator, or nothing to locate)."""
    return GroundFix(np.full((n, 2), np.nan), np.full((n, 2, 2), np.nan), np.zeros(n, bool))


@dataclass(frozen=True)
class BoxFootLocator:
    """The box's bottom-centre projected onto the road plane of the vehicle frame.

    The foot point's pixel std is ``foot_noise_h`` box heights (taller, nearer boxes are less sure in
    pixels), never below the projector's own ``pixel_sigma_px``.
    """

    projector: GroundProjector
    foot_noise_h: float = 0.03
    frame: str = "base_link"

    @property
    def frame_id(self) -> str:
        return self.frame

    def locate(self, boxes_xyxy: F64, class_ids: I64) -> GroundFix:
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return no_fix(0)
        foot = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
        sigma = np.maximum(self.foot_noise_h * (boxes[:, 3] - boxes[:, 1]), self.projector.pixel_sigma_px)
        return GroundFix(*self.projector.to_ground(foot, sigma_px=sigma))
