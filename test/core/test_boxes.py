"""The one box-geometry module: IoU, NMS (numpy and the detector's on-device path agree), conversions."""

import numpy as np
import pytest
import torch

from lepton_perception.core.boxes import cxcywh_to_xyxy, iou_matrix, nms, xyxy_to_cxcywh
from lepton_perception.core.detection.torch_ops import batched_nms


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
        ([0, 0, 10, 10], [2, 2, 8, 8], 36 / 100),
        ([0, 0, 10, 10], [5, 5, 5, 5], 0.0),  # empty box
        ([10, 10, 0, 0], [0, 0, 10, 10], 0.0),  # inverted box: zero area, never negative
    ],
)
def test_iou(a: list[float], b: list[float], iou: float) -> None:
    assert iou_matrix([a], [b])[0, 0] == pytest.approx(iou)
    assert iou_matrix([b], [a])[0, 0] == pytest.approx(iou)


def test_nms_is_class_aware_greedy_and_matches_the_device_path() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    cls = np.array([2, 2, 0, 2])
    assert nms(boxes, scores, cls, 0.5).tolist() == [0, 2, 3]  # 1 suppressed by 0; 2 is another class
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 200, (300, 2))
    b = np.concatenate([xy, xy + rng.uniform(5, 60, (300, 2))], axis=1).astype(np.float32)
    s = rng.random(300).astype(np.float32)
    c = rng.integers(0, 3, 300)
    dev = batched_nms(torch.from_numpy(b), torch.from_numpy(s), torch.from_numpy(c), 0.45)
    assert nms(b, s, c, 0.45).tolist() == dev.tolist()


def test_box_conversions_round_trip() -> None:
    b = np.array([[10.0, 20.0, 50.0, 100.0]])
    np.testing.assert_allclose(xyxy_to_cxcywh(b), [[30.0, 60.0, 40.0, 80.0]])
    np.testing.assert_allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(b)), b)
    assert cxcywh_to_xyxy(np.array([[5.0, 5.0, 0.0, 0.0]])).tolist() == [[4.5, 4.5, 5.5, 5.5]]  # >= 1 px
