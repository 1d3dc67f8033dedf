"""World-frame locator: positions into odom through the ego pose, covariances rotated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.core.ground import BoxFootLocator
from lepton_perception.core.world.ego import EgoPose
from lepton_perception.core.world.locator import WorldGroundLocator

K = CameraIntrinsics.from_fov(1280, 720, 90.0)
FOOT = BoxFootLocator(GroundProjector(K, CameraPose(0.0, 0.0, 1.6)), foot_noise_h=0.05)
# A car-sized box centred in the image whose bottom edge is 10 m ahead: v = cy + f * 1.6 / 10.
BOX = np.array([[600.0, 300.0, 680.0, 360.0 + 640.0 * 1.6 / 10.0]])
CAR = np.array([2])


def test_world_locator_moves_and_rotates_fixes_into_odom() -> None:
    pose = EgoPose(100.0, -50.0, math.pi / 2)  # ego faces +y of odom
    base, world = FOOT.locate(BOX, CAR), WorldGroundLocator(FOOT, pose).locate(BOX, CAR)
    assert base.xy_m[0] == pytest.approx([10.0, 0.0])
    assert world.xy_m[0] == pytest.approx([100.0, -40.0])  # 10 m ahead = +y in odom
    # Range uncertainty (base x) becomes odom y uncertainty; lateral (base y) becomes odom x.
    assert world.cov_m2[0, 1, 1] == pytest.approx(base.cov_m2[0, 0, 0])
    assert world.cov_m2[0, 0, 0] == pytest.approx(base.cov_m2[0, 1, 1])
    assert WorldGroundLocator(FOOT, pose).frame_id == "odom"
    assert world.valid.tolist() == [True]


def test_world_locator_keeps_invalid_rows_invalid() -> None:
    sky = np.array([[600.0, 100.0, 680.0, 200.0]])  # bottom above the horizon: no ground point
    fix = WorldGroundLocator(FOOT, EgoPose(1.0, 2.0, 0.3)).locate(sky, CAR)
    assert fix.valid.tolist() == [False] and np.isnan(fix.xy_m).all()
