"""The numpy (onnxruntime) and torch (on-device) decode / NMS paths give the same detections."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lepton_perception.core.detection import postprocess as np_post
from lepton_perception.core.detection import torch_ops
from lepton_perception.core.detection.preprocess import Letterbox

SIZE = 416


def _random_raw(seed: int, batch: int = 1) -> np.ndarray:
    """(B, 3549, 85) plausible head output: small offsets, log sizes, sparse confident anchors."""
    rng = np.random.default_rng(seed)
    a = 3549
    raw = np.empty((batch, a, 85), np.float32)
    raw[..., :2] = rng.uniform(-0.5, 1.5, (batch, a, 2))
    raw[..., 2:4] = rng.uniform(-1.0, 2.5, (batch, a, 2))
    raw[..., 4] = rng.uniform(0, 1, (batch, a)) ** 6
    raw[..., 5:] = rng.uniform(0, 1, (batch, a, 80)) ** 4
    return raw


def _random_boxes(seed: int, n: int, classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(5, 60, (n, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.choice(np.linspace(0.1, 1.0, 12), n).astype(np.float32)  # many exact ties
    return boxes, scores, rng.integers(0, classes, n)


def test_grid_and_decode_agree():
    grid, stride = np_post.make_grid(SIZE)
    assert grid.shape == (3549, 2) and stride.shape == (3549, 1)
    raw = _random_raw(0)[0]
    tg, ts = torch_ops.grid_tensors(SIZE, torch.device("cpu"))
    np.testing.assert_allclose(
        torch_ops.decode(torch.from_numpy(raw), tg, ts).numpy(), np_post.decode(raw, grid, stride), rtol=1e-6
    )
    # Anchor 0 sits at cell (0, 0) of stride 8, the last at the last cell of stride 32.
    assert tuple(grid[0]) == (0, 0) and stride[0, 0] == 8
    assert tuple(grid[-1]) == (12, 12) and stride[-1, 0] == 32


@pytest.mark.parametrize(
    ("seed", "n", "classes", "iou"),
    [(0, 1, 1, 0.5), (1, 60, 1, 0.45), (2, 300, 3, 0.45), (3, 500, 6, 0.3), (4, 200, 2, 0.7), (5, 0, 1, 0.5)],
)
def test_nms_numpy_and_torch_keep_the_same_boxes(seed, n, classes, iou):
    boxes, scores, cls = _random_boxes(seed, n, classes)
    keep_np = np_post.nms(boxes, scores, cls, iou)
    keep_t = torch_ops.batched_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(cls), iou
    )
    np.testing.assert_array_equal(keep_t.numpy(), keep_np)


def test_nms_is_per_class_and_greedy():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    cls = np.array([0, 0, 0, 1])
    # Box 1 is suppressed by box 0 (IoU 0.82); box 2 overlaps box 0 at 0.67 < 0.7 and survives because
    # box 1, which would suppress it, is already gone. The class-1 box is untouched.
    for keep in (
        np_post.nms(boxes, scores, cls, 0.7),
        torch_ops.batched_nms(*(torch.from_numpy(a) for a in (boxes, scores, cls)), 0.7).numpy(),
    ):
        assert keep.tolist() == [0, 2, 3]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_postprocess_agrees(seed):
    raw = _random_raw(seed, batch=2)
    lbs = [Letterbox.fit(1280, 720, SIZE), Letterbox.fit(333, 1517, SIZE)]
    th = np.full(80, np.inf, np.float32)
    th[[0, 1, 2, 3, 5, 7]] = [0.05, 0.1, 0.05, 0.2, 0.3, 0.05]
    grid, stride = np_post.make_grid(SIZE)
    tg, ts = torch_ops.grid_tensors(SIZE, torch.device("cpu"))
    got = torch_ops.postprocess(
        torch.from_numpy(raw), tg, ts, lbs, thresholds=torch.from_numpy(th), nms_iou=0.45, max_detections=50
    )
    for i, lb in enumerate(lbs):
        want = np_post.postprocess(np_post.decode(raw[i], grid, stride), lb, th, 0.45, 50)
        assert len(want) > 0
        assert len(got[i]) == len(want)
        np.testing.assert_array_equal(got[i].class_ids, want.class_ids)
        np.testing.assert_allclose(got[i].boxes, want.boxes, atol=1e-3)
        np.testing.assert_allclose(got[i].scores, want.scores, atol=1e-6)
        assert set(want.class_ids.tolist()) <= {0, 1, 2, 3, 5, 7}
        assert (want.boxes[:, [0, 2]] <= lb.width).all() and (want.boxes[:, [1, 3]] <= lb.height).all()
        assert (want.boxes >= 0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("over_one", [False, True])
def test_decoding_only_the_candidate_rows_gives_the_same_detections(seed: int, over_one: bool) -> None:
    """``candidates`` drops only rows that cannot pass, also when class probabilities exceed 1."""
    raw = _random_raw(seed)[0]
    if over_one:  # e.g. a dequantised int8 sigmoid
        raw[::7, 5] *= 1.02
    grid, stride = np_post.make_grid(SIZE)
    thresholds = np.full(80, np.inf, np.float32)
    thresholds[[0, 1, 2, 3, 5, 7]] = [0.3, 0.25, 0.3, 0.3, 0.35, 0.3]
    lb = Letterbox.fit(1280, 720, SIZE)
    want = np_post.postprocess(np_post.decode(raw, grid, stride), lb, thresholds, 0.45, 300)
    rows = np_post.candidates(raw, thresholds)
    got = np_post.postprocess(np_post.decode(raw[rows], grid[rows], stride[rows]), lb, thresholds, 0.45, 300)
    assert len(rows) < len(raw) and len(want.boxes) > 0
    np.testing.assert_array_equal(got.boxes, want.boxes)
    np.testing.assert_array_equal(got.scores, want.scores)
    np.testing.assert_array_equal(got.class_ids, want.class_ids)
    assert len(np_post.candidates(raw, np.full(80, np.inf, np.float32))) == 0
