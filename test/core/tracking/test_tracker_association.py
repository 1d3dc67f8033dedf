"""Association costs, gating and assignment."""

import numpy as np
import pytest

from lepton_perception.core.tracking.association import (
    GATED,
    centre_distance_cost,
    direction_cost,
    iou_matrix,
    linear_assignment,
)


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
        ([0, 0, 10, 10], [2, 2, 8, 8], 36 / 100),
    ],
)
def test_iou(a: list[float], b: list[float], iou: float) -> None:
    assert iou_matrix(np.array([a]), np.array([b]))[0, 0] == pytest.approx(iou)


def test_assignment_respects_gate_and_finds_global_optimum() -> None:
    # Greedy would take (0, 0) at 0.1 and leave track 1 with its gated pair; the optimum is the swap.
    cost = np.array([[0.1, 0.2], [0.15, GATED]])
    rows, cols = linear_assignment(cost, 0.5)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0)]
    allowed = np.array([[False, False], [True, False]])
    rows, cols = linear_assignment(np.where(allowed, cost, GATED), 0.5)
    assert list(zip(rows.tolist(), cols.tolist())) == [(1, 0)]
    r, c = linear_assignment(np.zeros((0, 3)), 1.0)
    assert len(r) == len(c) == 0


def test_direction_cost_is_the_angle_and_zero_when_unknown() -> None:
    last = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    dirs = np.array([[1.0, 0.0], [0.0, 0.0]])  # track 0 moves right; track 1 unknown
    dets = np.array([[10.0, 0.0, 20.0, 10.0], [-10.0, 0.0, 0.0, 10.0], [0.0, 10.0, 10.0, 20.0]])
    c = direction_cost(dirs, last, dets)
    np.testing.assert_allclose(c[0], [0.0, np.pi, np.pi / 2], atol=1e-9)
    np.testing.assert_allclose(c[1], 0.0)


def test_centre_distance_cost_in_box_heights() -> None:
    c = centre_distance_cost(np.array([[0.0, 0.0, 10.0, 20.0]]), np.array([[10.0, 0.0, 20.0, 20.0]]))
    assert c[0, 0] == pytest.approx(0.5)
