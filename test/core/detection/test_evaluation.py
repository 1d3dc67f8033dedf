"""Greedy IoU matching for precision / recall."""

from __future__ import annotations

import numpy as np
import pytest

from lepton_perception.core.detection.evaluation import MatchCounts, iou_matrix, match

GT = [[0, 0, 10, 10], [20, 0, 30, 10]]


def test_iou_matrix():
    iou = iou_matrix([[0, 0, 10, 10], [5, 0, 15, 10]], [[0, 0, 10, 10], [100, 100, 110, 110]])
    np.testing.assert_allclose(iou, [[1.0, 0.0], [50 / 150, 0.0]])


@pytest.mark.parametrize(
    ("boxes", "scores", "ignore", "expected"),
    [
        ([], [], [], MatchCounts(0, 0, 2, 0)),  # nothing found
        ([[0, 0, 10, 10], [20, 0, 30, 10]], [0.9, 0.8], [], MatchCounts(2, 0, 0, 0)),  # perfect
        ([[0, 0, 10, 10], [1, 0, 11, 10]], [0.9, 0.8], [], MatchCounts(1, 1, 1, 0)),  # duplicate is an FP
        ([[0, 0, 10, 10], [1, 0, 11, 10]], [0.7, 0.8], [], MatchCounts(1, 1, 1, 0)),  # higher score matches
        ([[0, 0, 10, 5]], [0.9], [], MatchCounts(1, 0, 1, 0)),  # IoU exactly 0.5 is a match
        ([[50, 50, 60, 60]], [0.9], [[50, 50, 60, 61]], MatchCounts(0, 0, 2, 1)),  # on an ignore region
    ],
)
def test_match_counts(boxes, scores, ignore, expected):
    got = match(boxes, scores, GT, ignore, iou_threshold=0.5)
    assert got == expected


def test_precision_recall_and_sum():
    total = MatchCounts(3, 1, 2, 0) + MatchCounts(1, 0, 0, 4)
    assert total == MatchCounts(4, 1, 2, 4)
    assert total.precision == pytest.approx(0.8) and total.recall == pytest.approx(4 / 6)
    assert MatchCounts(0, 0, 0, 0).precision == 1.0
