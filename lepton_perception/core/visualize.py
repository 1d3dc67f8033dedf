"""Annotated images: boxes, class, track id and speed drawn on the camera image (ROS-free)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from lepton_perception.core.camera import GroundProjector
from lepton_perception.core.types import Category, FrameResult, TrackState, class_name
from lepton_perception.core.world.ego import EgoPose

# BGR colour per planning category; the same colours are used for RViz markers.
CATEGORY_BGR: dict[Category, tuple[int, int, int]] = {
    Category.PEDESTRIAN: (60, 200, 60),
    Category.CYCLIST: (0, 200, 255),
    Category.VEHICLE: (255, 140, 30),
    Category.UNKNOWN: (180, 180, 180),
}


def id_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, well-spread colour per track id (golden-ratio hue walk)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 179)
    hsv = np.array([[[hue, 200, 255]]], dtype=np.uint8)
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw_result(
    image: npt.NDArray[np.uint8],
    result: FrameResult,
    copy: bool = True,
    projector: GroundProjector | None = None,
    pose: EgoPose | None = None,
) -> npt.NDArray[np.uint8]:
    """Confirmed/coasting tracks as id-coloured boxes with labels; raw detections as thin grey boxes;
    with a ``projector``, predicted ground paths drawn back into the image as dotted polylines.

    Paths are in the frame of the tracks: ``base_link`` when ``pose`` is None; with odometry, the
    fixed frame, and ``pose`` is ``base_link`` in it at the image stamp, so each path point goes
    fixed frame -> ``base_link`` (the pose) -> camera (the projector's extrinsics) -> pixel.
    """
    out = image.copy() if copy else image
    if projector is not None:
        _draw_paths(out, result, projector, pose)
    for box in result.detections.boxes:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), (200, 200, 200), 1)
    for t in result.tracks:
        if t.state not in (TrackState.CONFIRMED, TrackState.COASTING):
            continue
        colour = id_colour(t.track_id)
        x1, y1, x2, y2 = (int(round(v)) for v in t.box)
        thickness = 2 if t.state == TrackState.CONFIRMED else 1
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        label = f"{class_name(t.class_id)} #{t.track_id}"
        if t.ground is not None:
            label += f" {float(np.hypot(*t.ground.velocity_mps)):.1f}m/s"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        cv2.rectangle(out, (x1, max(y1 - th - 4, 0)), (x1 + tw + 2, max(y1, th + 4)), colour, -1)
        cv2.putText(
            out,
            label,
            (x1 + 1, max(y1 - 3, th + 1)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return out


def _draw_paths(
    out: npt.NDArray[np.uint8], result: FrameResult, projector: GroundProjector, pose: EgoPose | None
) -> None:
    for path in result.paths:
        xy = path.positions_m if pose is None else pose.to_base(path.positions_m)  # (T, 2) base_link
        ground = np.concatenate([xy, np.zeros((len(xy), 1))], axis=1)  # (T, 3) on the road
        uv = projector.to_image(ground)  # (T, 2) px, NaN behind the camera
        pts = uv[np.isfinite(uv).all(axis=1)].round().astype(np.int32)
        if len(pts) < 2:
            continue
        colour = id_colour(path.track_id)
        cv2.polylines(out, [pts.reshape(-1, 1, 2)], False, colour, 1, cv2.LINE_AA)
        for p in pts:
            cv2.circle(out, (int(p[0]), int(p[1])), 2, colour, -1)
