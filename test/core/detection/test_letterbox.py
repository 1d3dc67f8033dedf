"""Letterboxing places any image size exactly and maps boxes back exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lepton_perception.core.detection.preprocess import PAD_VALUE, Letterbox, LetterboxBuffer, letterbox
from lepton_perception.core.detection.torch_ops import letterbox_into

SIZE = 416
# (width, height) of odd shapes: tiny, thin, odd primes, exact fit, larger than input, portrait.
SHAPES = [
    (1, 1),
    (7, 3),
    (1001, 3),
    (3, 1001),
    (517, 333),
    (416, 416),
    (1919, 1081),
    (333, 1517),
    (4000, 17),
    (1, 2000),
]


@pytest.mark.parametrize(("w", "h"), SHAPES)
def test_placement_and_padding(w, h):
    img = np.random.default_rng(w * h).integers(0, 255, (h, w, 3), dtype=np.uint8)
    canvas, lb = letterbox(img, SIZE)
    assert canvas.shape == (SIZE, SIZE, 3)
    assert (lb.width, lb.height) == (w, h)
    assert max(lb.resized_w, lb.resized_h) == SIZE  # the long side fills the input
    assert 1 <= lb.resized_w <= SIZE and 1 <= lb.resized_h <= SIZE
    scale = min(SIZE / w, SIZE / h)  # one scale for both axes, up to rounding to whole pixels
    assert abs(lb.resized_w - max(w * scale, 1)) <= 0.5 and abs(lb.resized_h - max(h * scale, 1)) <= 0.5
    assert (canvas[lb.resized_h :] == PAD_VALUE).all() and (canvas[:, lb.resized_w :] == PAD_VALUE).all()


@pytest.mark.parametrize(("w", "h"), SHAPES)
def test_box_round_trip_is_exact(w, h):
    lb = Letterbox.fit(w, h, SIZE)
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, w, (50, 2)), axis=1)
    y = np.sort(rng.uniform(0, h, (50, 2)), axis=1)
    boxes = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1).astype(np.float32)
    back = lb.boxes_to_image(lb.boxes_to_input(boxes))
    np.testing.assert_allclose(back, boxes, rtol=1e-5, atol=1e-3)
    # The far image corner maps to the far corner of the resized area: per-axis scale, no drift.
    corner = lb.boxes_to_input(np.array([[0, 0, w, h]], np.float32))[0]
    np.testing.assert_allclose(corner, [0, 0, lb.resized_w, lb.resized_h], atol=1e-3)


@pytest.mark.parametrize(
    ("w", "h", "box"),
    [
        (517, 333, (101, 57, 388, 290)),
        (333, 1517, (20, 700, 301, 1390)),
        (1919, 1081, (1000, 3, 1900, 1000)),
        (4000, 17, (100, 2, 3900, 15)),
    ],
)
def test_drawn_rectangle_comes_back_within_one_input_pixel(w, h, box):
    img = np.zeros((h, w, 3), np.uint8)
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = 255
    canvas, lb = letterbox(img, SIZE)
    bright = canvas[..., 0] > 127
    cols, rows = np.flatnonzero(bright.any(axis=0)), np.flatnonzero(bright.any(axis=1))
    found = np.array([[cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]], np.float32)
    back = lb.boxes_to_image(found)[0]
    sx, sy = lb.scale_xy
    tol = np.array([1 / sx, 1 / sy, 1 / sx, 1 / sy]) + 1e-3  # one network pixel, in image pixels
    assert (np.abs(back - np.array(box)) <= tol).all(), (back, box, tol)


@pytest.mark.parametrize(("w", "h"), [(517, 333), (333, 1517), (1919, 1081), (416, 416)])
def test_torch_letterbox_matches_cv2(w, h):
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), (xx + yy) % 256], -1).astype(
        np.uint8
    )
    ref, lb = letterbox(img, SIZE)
    out = torch.empty(2, 3, SIZE, SIZE)
    lbs = letterbox_into([img, img], out)
    assert lbs[0] == lb and lbs[1] == lb
    got = out[1].permute(1, 2, 0).numpy()
    diff = np.abs(got - ref.astype(np.float32))
    assert diff.max() <= 2 and diff.mean() < 0.5  # float vs cv2 fixed-point bilinear
    assert (got[lb.resized_h :] == PAD_VALUE).all() and (got[:, lb.resized_w :] == PAD_VALUE).all()


def test_letterbox_buffer_matches_letterbox_and_repads_when_sizes_change():
    rng = np.random.default_rng(3)
    buf = LetterboxBuffer(SIZE)
    sizes = [[(517, 333), (333, 1517)], [(333, 1517), (517, 333)], [(1919, 1081)], [(517, 333), (416, 416)]]
    for shapes in sizes:  # slots change placement between calls: stale pixels must not survive
        imgs = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for w, h in shapes]
        canvases, lbs = buf(imgs)
        assert canvases.shape == (len(imgs), SIZE, SIZE, 3)
        for img, canvas, lb in zip(imgs, canvases, lbs):
            expected, expected_lb = letterbox(img, SIZE)
            assert lb == expected_lb
            np.testing.assert_array_equal(canvas, expected)


def test_letterbox_buffer_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        LetterboxBuffer(SIZE)([np.zeros((10, 10, 3), np.float32)])
