"""Ego pose buffer: interpolation, shortest-arc yaw, bounded extrapolation, explicit no-pose answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lepton_perception.core.world.ego import EgoPose, EgoPoseBuffer, PoseBufferConfig, wrap_angle


def _buffer(*poses: tuple[float, float, float, float], **cfg: float) -> EgoPoseBuffer:
    buf = EgoPoseBuffer(PoseBufferConfig(**cfg))
    for t, x, y, yaw in poses:
        assert buf.add(t, EgoPose(x, y, yaw))
    return buf


def test_linear_position_between_poses() -> None:
    p = _buffer((0.0, 0.0, 0.0, 0.0), (0.1, 1.0, 2.0, 0.2)).at(0.025)
    assert p is not None
    assert (p.x_m, p.y_m, p.yaw_rad) == pytest.approx((0.25, 0.5, 0.05))


def test_yaw_takes_the_shortest_arc_across_pi() -> None:
    p = _buffer((0.0, 0.0, 0.0, math.pi - 0.1), (0.1, 0.0, 0.0, -math.pi + 0.1)).at(0.05)
    assert p is not None
    assert abs(wrap_angle(p.yaw_rad - math.pi)) < 1e-9  # through pi, not through 0


def test_bounded_extrapolation_then_no_pose() -> None:
    buf = _buffer((0.0, 0.0, 0.0, 0.0), (0.1, 1.0, 0.0, 0.0), max_extrapolation_s=0.2)
    ahead = buf.at(0.25)
    assert ahead is not None and ahead.x_m == pytest.approx(2.5)  # 10 m/s carried on
    assert buf.at(0.31) is None
    assert buf.at(-0.21) is None
    assert EgoPoseBuffer().at(0.0) is None


def test_no_interpolation_across_an_odometry_gap() -> None:
    buf = _buffer((0.0, 0.0, 0.0, 0.0), (2.0, 20.0, 0.0, 0.0), max_gap_s=0.5)
    assert buf.at(1.0) is None


def test_out_of_order_and_non_finite_poses_are_counted_not_kept() -> None:
    buf = _buffer((1.0, 0.0, 0.0, 0.0))
    assert not buf.add(0.5, EgoPose(1.0, 0.0, 0.0))
    assert not buf.add(2.0, EgoPose(float("nan"), 0.0, 0.0))
    assert buf.rejected == 2 and len(buf) == 1


def test_old_poses_are_dropped() -> None:
    buf = EgoPoseBuffer(PoseBufferConfig(history_s=1.0))
    for k in range(30):
        buf.add(0.1 * k, EgoPose(float(k), 0.0, 0.0))
    assert len(buf) <= 11 and buf.at(0.5) is None


@given(
    st.floats(-100, 100), st.floats(-100, 100), st.floats(-math.pi, math.pi),
    st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50)), min_size=1, max_size=5),
)  # fmt: skip
def test_to_base_inverts_to_fixed(x: float, y: float, yaw: float, pts: list[tuple[float, float]]) -> None:
    pose = EgoPose(x, y, yaw)
    xy = np.array(pts)
    np.testing.assert_allclose(pose.to_base(pose.to_fixed(xy)), xy, atol=1e-9)
