"""Ground locators: the fused locator recovers a synthetic object's centre with a calibrated spread."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.core.ground import SIZE_PRIORS, FusedGroundLocator

K = CameraIntrinsics(720.0, 720.0, 620.0, 180.0, 1242, 375)
PROJ = GroundProjector(K, CameraPose(z_m=1.65))


def _box(x_m: float, y_m: float, yaw: float, cls: int) -> np.ndarray:
    """The 2D box of a size-prior-sized object centred at (x, y) on the road, seen by PROJ."""
    p = SIZE_PRIORS[cls]
    c, s = np.cos(yaw), np.sin(yaw)
    corners = []
    for dx in (-p.length_m / 2, p.length_m / 2):
        for dy in (-p.width_m / 2, p.width_m / 2):
            for z in (0.0, p.height_m):
                corners.append([x_m + c * dx - s * dy, y_m + s * dx + c * dy, z])
    uv = PROJ.to_image(np.array(corners))
    return np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])


def test_centre_recovered_for_any_yaw_and_errors_inside_two_sigma() -> None:
    rng = np.random.default_rng(0)
    truth, boxes = [], []
    for _ in range(200):
        x, y, yaw = rng.uniform(6, 30), rng.uniform(-4, 4), rng.uniform(-np.pi, np.pi)
        truth.append((x, y))
        boxes.append(_box(x, y, yaw, 2))
    b = np.array(boxes)
    fix = FusedGroundLocator(PROJ).locate(b, np.full(200, 2, np.int64))
    # Boxes reaching past the left or right border are cut there: no fix; cut only by the bottom one: a
    # near-field fix (next tests); all others get a measured one.
    side = (b[:, 0] <= 2.0) | (b[:, 2] >= K.width - 2.0)
    inside = ~side & (b[:, 3] < K.height - 2.0)
    assert np.array_equal(fix.valid, ~side) and inside.sum() > 150
    err = (fix.xy_m - np.array(truth))[inside]
    rng_true = np.linalg.norm(truth, axis=1)[inside]
    assert np.mean(np.linalg.norm(err, axis=1) / rng_true) < 0.06
    d2 = np.einsum("ni,nij,nj->n", err, np.linalg.inv(fix.cov_m2[inside]), err)
    assert np.mean(d2 <= 4.0) > 0.9


def test_boxes_cut_by_the_side_or_bottom_border_give_no_fix() -> None:
    loc = FusedGroundLocator(PROJ, near_field=False)
    boxes = np.array(
        [
            [0.0, 150.0, 60.0, 250.0],  # left border
            [1200.0, 150.0, 1242.0, 250.0],  # right border
            [600.0, 200.0, 700.0, 375.0],  # bottom border
            [600.0, 150.0, 700.0, 250.0],  # whole
        ]
    )
    fix = loc.locate(boxes, np.full(4, 2, np.int64))
    assert fix.valid.tolist() == [False, False, False, True]
    assert np.isnan(fix.xy_m[:3]).all() and np.isfinite(fix.xy_m[3]).all()
    keep = FusedGroundLocator(PROJ, border_px=0.0).locate(boxes, np.full(4, 2, np.int64))
    assert keep.valid[:2].all()  # the rule can be switched off
    near = FusedGroundLocator(PROJ).locate(boxes, np.full(4, 2, np.int64))
    assert near.valid.tolist() == [False, False, True, True]  # the bottom-cut box: a near-field fix


def _person_box(x_m: float, y_m: float) -> np.ndarray:
    """A 0.6 m wide, 1.75 m tall person at (x, y), clipped to the image as a detector reports it."""
    uv = PROJ.to_image(np.array([[x_m, y_m + 0.3, 0.0], [x_m, y_m - 0.3, 1.75]]))
    box = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
    return np.clip(box, 0.0, [K.width, K.height, K.width, K.height])


def test_a_person_whose_feet_are_below_the_image_gets_a_bounded_near_field_fix() -> None:
    """Nearer than where the road leaves the image (6.4 m here) the feet are cut off: the fix is
    halfway to that distance along the person's bearing, and its spread covers every range from 0 to
    it, so the person stays on the list, close and uncertain, wherever they really are."""
    edge, _, _ = PROJ.to_ground(np.array([[K.cx, K.height - 0.5]]))
    r_edge = float(np.linalg.norm(edge[0] - PROJ.pose.translation()[:2]))
    assert 6.0 < r_edge < 7.0
    truth = np.array([(x, y) for x in np.linspace(2.5, 0.95 * r_edge, 8) for y in (-1.0, 0.0, 1.0)])
    boxes = np.array([_person_box(x, y) for x, y in truth])
    assert (boxes[:, 3] >= K.height - 2.0).all()  # every one cut by the bottom border
    fix = FusedGroundLocator(PROJ).locate(boxes, np.zeros(len(truth), np.int64))
    assert fix.valid.all()
    rng = np.linalg.norm(fix.xy_m, axis=1)
    assert np.all(rng < 0.6 * r_edge) and np.all(rng > 0.4 * r_edge)  # about halfway, per bearing
    err = fix.xy_m - truth
    d2 = np.einsum("ni,nij,nj->n", err, np.linalg.inv(fix.cov_m2), err)
    assert np.all(d2 <= 4.0)  # the truth inside 2 sigma at every range up to the edge
    bearing_err = np.arctan2(fix.xy_m[:, 1], fix.xy_m[:, 0]) - np.arctan2(truth[:, 1], truth[:, 0])
    assert np.abs(bearing_err).max() < 0.1  # rad: the direction is measured, only the range is bounded


def test_unknown_class_uses_ground_contact_only_and_cut_boxes_skip_height() -> None:
    loc = FusedGroundLocator(PROJ)
    box = np.array([[600.0, 150.0, 640.0, 250.0]])
    unknown = loc.locate(box, np.array([42]))
    expected, _, _ = PROJ.to_ground(np.array([[620.0, 250.0]]))
    np.testing.assert_allclose(unknown.xy_m, expected)
    cut = loc.locate(np.array([[600.0, 0.0, 640.0, 250.0]]), np.array([0]))
    off, _ = SIZE_PRIORS[0].centre_offset_m()
    assert np.isclose(np.linalg.norm(cut.xy_m[0]), np.linalg.norm(expected[0]) + off)
    assert loc.locate(np.zeros((0, 4)), np.zeros(0, np.int64)).xy_m.shape == (0, 2)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1200),
            st.floats(0, 370),
            st.floats(1, 400),
            st.floats(1, 300),
            st.sampled_from([0, 2, 7, 42]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_valid_fixes_are_finite_with_positive_definite_covariance(rows: list[tuple[float, ...]]) -> None:
    boxes = np.array([[x, y, x + w, min(y + h, 375.0)] for x, y, w, h, _ in rows])
    fix = FusedGroundLocator(PROJ).locate(boxes, np.array([int(r[4]) for r in rows], np.int64))
    assert fix.xy_m.shape == (len(rows), 2) and fix.cov_m2.shape == (len(rows), 2, 2)
    assert np.isfinite(fix.xy_m[fix.valid]).all()
    assert np.isnan(fix.xy_m[~fix.valid]).all()
    for c in fix.cov_m2[fix.valid]:
        np.testing.assert_allclose(c, c.T, atol=1e-9)
        assert np.linalg.eigvalsh(c).min() > 0
    assert np.isfinite(FusedGroundLocator(PROJ).horizon.shift_px)


def test_centre_offset_follows_the_viewing_angle_of_a_car() -> None:
    """End-on, a car's centre is half a length behind the box foot; side-on, nearer: the box width
    tells them apart (side-on stays ambiguous with 45 deg, which shows the same width)."""
    loc = FusedGroundLocator(PROJ, track_horizon=False)
    uniform, _ = SIZE_PRIORS[2].centre_offset_m()
    for yaw, true_offset in ((0.0, SIZE_PRIORS[2].length_m / 2), (np.pi / 2, SIZE_PRIORS[2].width_m / 2)):
        fix = loc.locate(_box(15.0, 0.0, yaw, 2)[None], np.array([2]))
        err = abs(fix.xy_m[0, 0] - 15.0)
        assert err < 0.8 * abs(uniform - true_offset), (yaw, fix.xy_m[0])
