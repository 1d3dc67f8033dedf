"""Annotated images: track boxes in the id colour, predicted paths projected back into the image."""

from __future__ import annotations

import numpy as np

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.core.types import Detections, FrameResult, PredictedPath, Track, TrackState
from lepton_perception.core.visualize import draw_result, id_colour
from lepton_perception.core.world.ego import EgoPose


def _result(state: TrackState) -> FrameResult:
    track = Track(
        7,
        0,
        state,
        np.array([100, 100, 140, 200], np.float32),
        np.zeros(2, np.float32),
        0.9,
        1.0,
        1.0,
        5,
        0.0,
    )
    path = PredictedPath(
        7, np.array([1.4, 1.8, 2.2]), np.array([[10.0, 0.0], [12.0, 0.0], [14.0, 0.0]]), 1.0, "rnn"
    )
    return FrameResult("cam", "camera", 1.0, (640, 480), Detections.empty(), [track], [path], {})


def test_confirmed_track_box_and_path_are_drawn() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    projector = GroundProjector(CameraIntrinsics.from_fov(640, 480, 60.0), CameraPose(z_m=1.65))
    out = draw_result(image, _result(TrackState.CONFIRMED), projector=projector)
    assert image.sum() == 0  # the input is not modified
    colour = np.array(id_colour(7))
    assert (out[150, 100] == colour).all() and (out[150, 140] == colour).all()  # box edges
    u, v = projector.to_image(np.array([[12.0, 0.0, 0.0]]))[0]
    patch = out[int(round(v)) - 1 : int(round(v)) + 2, int(round(u)) - 1 : int(round(u)) + 2]
    assert (patch == colour).all(axis=-1).any(), "path point at 12 m ahead not drawn where it projects"


def test_tentative_tracks_are_not_drawn() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    out = draw_result(image, _result(TrackState.TENTATIVE))
    assert out.sum() == 0


def _path_pixel_hit(out: np.ndarray, uv: np.ndarray, colour: np.ndarray) -> bool:
    u, v = (int(round(c)) for c in uv)
    patch = out[v - 1 : v + 2, u - 1 : u + 2]
    return bool((patch == colour).all(axis=-1).any())


def test_fixed_frame_path_is_drawn_through_the_pose_at_the_image_stamp() -> None:
    """The ego has driven to (50, 20) m in odom and turned left by 90 deg: a path point 12 m ahead of
    it (odom (50, 32)) lands where base_link (12, 0) projects, not where odom's (50, 32) would."""
    image = np.zeros((480, 640, 3), np.uint8)
    projector = GroundProjector(CameraIntrinsics.from_fov(640, 480, 60.0), CameraPose(z_m=1.65))
    pose = EgoPose(50.0, 20.0, np.pi / 2)
    ahead_base = np.array([[10.0, 0.0], [12.0, 1.0], [14.0, -1.0]])  # base_link, all in view
    path = PredictedPath(7, np.array([1.4, 1.8, 2.2]), pose.to_fixed(ahead_base), 1.0, "rnn")
    np.testing.assert_allclose(path.positions_m[1], [49.0, 32.0], atol=1e-9)
    result = FrameResult("cam", "odom", 1.0, (640, 480), Detections.empty(), [], [path], {})
    out = draw_result(image, result, projector=projector, pose=pose)
    colour = np.array(id_colour(7))
    for xy in ahead_base:
        uv = projector.to_image(np.array([[xy[0], xy[1], 0.0]]))[0]
        assert _path_pixel_hit(out, uv, colour), (xy, uv)
    # Without the pose the odom coordinates would be taken as base_link: (49, 32) m is outside the view.
    assert draw_result(image, result, projector=projector).sum() == 0
