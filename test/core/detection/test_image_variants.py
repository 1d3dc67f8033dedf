"""The street photo and its padded / cropped / resized / portrait variants give boxes on the same objects."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lepton_perception.core.detection.evaluation import iou_matrix
from lepton_perception.core.types import category_of

IMAGE = "mmod_cars_test_image.jpg"  # 928 x 478


def _pad(img, left, top, right, bottom):
    return cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(0, 0, 0)), (
        1.0,
        1.0,
        left,
        top,
    )


def _crop(img, x0, y0, x1, y1):
    return img[y0:y1, x0:x1].copy(), (1.0, 1.0, -x0, -y0)


def _resize(img, w, h):
    H, W = img.shape[:2]
    interp = cv2.INTER_AREA if w < W else cv2.INTER_LINEAR
    return cv2.resize(img, (w, h), interpolation=interp), (w / W, h / H, 0, 0)


# name -> (transform, min IoU each confident reference object must reach in the variant)
VARIANTS = {
    "pad_to_square": (lambda im: _pad(im, 0, 0, 0, 928 - 478), 0.9),  # same letterbox scale: near identical
    "pad_all_sides": (lambda im: _pad(im, 97, 61, 131, 203), 0.5),
    "crop": (lambda im: _crop(im, 101, 40, 801, 460), 0.5),
    "resize_640x480": (lambda im: _resize(im, 640, 480), 0.5),
    "resize_1920x1080": (lambda im: _resize(im, 1920, 1080), 0.5),
    "portrait_pad": (lambda im: _pad(im, 0, 700, 0, 700), 0.5),
    "portrait_crop": (lambda im: _crop(im, 250, 0, 590, 478), 0.5),
    "portrait_resize_480x640": (lambda im: _resize(im, 480, 640), 0.5),
}
CONFIDENT = 0.6  # reference objects this sure must survive every variant; weaker ones may come and go


@pytest.fixture(scope="module")
def reference(torch_detector, images):
    return torch_detector.detect([images[IMAGE]])[0]


def test_street_photo_has_cars_and_a_person(reference):
    cars = int(((reference.class_ids == 2) & (reference.scores > 0.3)).sum())
    persons = int(((reference.class_ids == 0) & (reference.scores > 0.3)).sum())
    assert cars >= 8 and persons >= 1, (cars, persons)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_finds_the_same_objects(name, torch_detector, images, reference):
    transform, min_iou = VARIANTS[name]
    image, (sx, sy, dx, dy) = transform(images[IMAGE])
    h, w = image.shape[:2]
    expected = reference.boxes * np.array([sx, sy, sx, sy]) + np.array([dx, dy, dx, dy])
    visible = np.clip(expected, 0, [w, h, w, h])

    def area(b):
        return (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)

    check = (area(visible) >= 0.9 * area(expected)) & (reference.scores >= CONFIDENT)
    assert check.sum() >= 2, "variant leaves too few confident objects to compare"
    got = torch_detector.detect([image])[0]
    assert len(got) > 0
    iou = iou_matrix(visible, got.boxes)
    for i in np.flatnonzero(check):
        same_cat = np.array([category_of(c) == category_of(reference.class_ids[i]) for c in got.class_ids])
        best = float((iou[i] * same_cat).max())
        assert best >= min_iou, f"{name}: object {i} {expected[i].round(1)} best IoU {best:.2f}"
