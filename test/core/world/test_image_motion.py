"""Ego-motion compensation in the image: a static object's box is carried through the ego poses."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from lepton_perception.core.boxes import xyxy_to_cxcywh
from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.core.ground import BoxFootLocator, image_motion
from lepton_perception.core.tracking.config import TrackerConfig
from lepton_perception.core.tracking.tracker import MultiObjectTracker
from lepton_perception.core.types import Detections
from lepton_perception.core.world.ego import EgoPose
from lepton_perception.core.world.image_motion import EgoImageMotion
from lepton_perception.core.world.locator import WorldGroundLocator

PROJ = GroundProjector(CameraIntrinsics.from_fov(1280, 720, 90.0), CameraPose(x_m=1.0, z_m=1.6))
CAR_M = (1.8, 1.5)  # width, height of a parked car


def box_of(fixed_xy: tuple[float, float], pose: EgoPose) -> np.ndarray:
    """The image box (xyxy px) of a car standing at ``fixed_xy`` (odom), seen from ``pose``."""
    (x, y), (w, h) = pose.to_base(np.array([fixed_xy]))[0], CAR_M
    foot = PROJ.to_image([[x, y, 0.0]])[0]
    top = PROJ.to_image([[x, y, h]])[0]
    side = PROJ.to_image([[x, y + w / 2, 0.0]])[0]
    half_w = abs(foot[0] - side[0])
    return np.array([foot[0] - half_w, top[1], foot[0] + half_w, foot[1]])


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (EgoPose(0.0, 0.0, 0.0), EgoPose(1.2, 0.0, 0.0)),  # 12 m/s for 0.1 s, straight
        (EgoPose(0.0, 0.0, 0.0), EgoPose(1.0, 0.2, math.radians(4.0))),  # turning left
        (EgoPose(50.0, -20.0, 2.0), EgoPose(49.6, -19.1, 2.05)),  # anywhere in odom
    ],
)
def test_static_car_box_lands_where_the_later_image_sees_it(before: EgoPose, after: EgoPose) -> None:
    car = tuple(before.to_fixed(np.array([[9.0, 2.5]]))[0])
    prev, now = box_of(car, before), box_of(car, after)
    assert np.abs(prev - now).max() > 10.0  # the ego's motion alone moves it far in the image
    warped = EgoImageMotion(PROJ, before, after).warp_cxcywh(xyxy_to_cxcywh(prev[None]))[0]
    np.testing.assert_allclose(warped, xyxy_to_cxcywh(now[None])[0], atol=0.5)


def test_box_without_a_ground_point_is_left_alone() -> None:
    above_horizon = np.array([[640.0, 200.0, 80.0, 60.0], [100.0, 350.0, 50.0, 10.0]])  # foot above v=360
    warped = EgoImageMotion(PROJ, EgoPose(0, 0, 0), EgoPose(1, 0, 0.1)).warp_cxcywh(above_horizon)
    np.testing.assert_array_equal(warped, above_horizon)


def test_motion_only_between_images_of_one_camera_in_one_frame() -> None:
    base, other = BoxFootLocator(PROJ), BoxFootLocator(dataclasses.replace(PROJ, pixel_sigma_px=3.0))
    a = WorldGroundLocator(base, EgoPose(0, 0, 0))
    b = WorldGroundLocator(base, EgoPose(1, 0, 0))
    assert isinstance(image_motion(a, b), EgoImageMotion)
    assert image_motion(None, b) is None  # first image
    assert image_motion(a, base) is None  # no pose: nothing known about the motion
    assert image_motion(WorldGroundLocator(other, EgoPose(0, 0, 0)), b) is None  # another mount
    assert image_motion(WorldGroundLocator(base, EgoPose(0, 0, 0), "map"), b) is None  # another frame


@pytest.mark.parametrize("compensate", [True, False])
def test_parked_car_keeps_one_track_while_the_ego_drives_past(compensate: bool) -> None:
    """15 m/s past a car parked 3 m to the side: between images its box slides and grows until
    consecutive boxes barely overlap (IoU 0.53 -> 0.03), so a track that predicts it from image motion
    alone loses it; compensated, the track born in the first image follows it to the last."""
    tracker = MultiObjectTracker(dataclasses.replace(TrackerConfig(), ego_motion_compensation=compensate))
    base, ids = BoxFootLocator(PROJ), []
    for k in range(7):
        pose = EgoPose(1.5 * k, 0.0, 0.0)
        box = box_of((12.0, 3.0), pose)
        dets = Detections(box[None].astype(np.float32), np.array([0.9], np.float32), np.array([2]))
        tracks = tracker.step(dets, 0.1 * k, WorldGroundLocator(base, pose))
        ids.append(sorted(t.track_id for t in tracks if t.time_since_update_s == 0.0))
    assert (ids == [[1]] * 7) is compensate, ids
