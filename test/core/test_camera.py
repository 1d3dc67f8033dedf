"""Camera geometry: image <-> road plane."""

import numpy as np
import pytest

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector

K = CameraIntrinsics(721.5377, 721.5377, 609.5593, 172.854, 1242, 375)
POSES = [
    CameraPose(z_m=1.65),
    CameraPose(x_m=1.2, y_m=-0.3, z_m=1.4, roll_rad=0.01, pitch_rad=0.05, yaw_rad=0.1),
    CameraPose(z_m=2.0, pitch_rad=-0.02, yaw_rad=np.pi / 2),  # looking left
]


@pytest.mark.parametrize("pose", POSES)
def test_ground_point_round_trip(pose: CameraPose) -> None:
    proj = GroundProjector(K, pose)
    # Ground points in front of the camera, expressed in its heading.
    c, s = np.cos(pose.yaw_rad), np.sin(pose.yaw_rad)
    fwd_left = np.array([[8.0, 0.0], [15.0, 3.0], [40.0, -5.0], [70.0, 10.0]])
    xy = np.array([pose.x_m, pose.y_m]) + fwd_left @ np.array([[c, s], [-s, c]])
    uv = proj.to_image(np.c_[xy, np.zeros(len(xy))])
    back, cov, valid = proj.to_ground(uv)
    assert valid.all()
    np.testing.assert_allclose(back, xy, atol=1e-6)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_kitti_forward_point_lands_where_expected() -> None:
    proj = GroundProjector(K, CameraPose(z_m=1.65))
    uv = proj.to_image([[20.0, 0.0, 0.0], [20.0, 2.0, 0.0], [20.0, 0.0, 1.65]])
    # Straight ahead on the road: below the principal point by f * h / Z; 2 m left: f * 2 / Z px left;
    # at camera height: on the horizon.
    np.testing.assert_allclose(uv[0], [K.cx, K.cy + K.fy * 1.65 / 20.0])
    np.testing.assert_allclose(uv[1], [K.cx - K.fx * 2.0 / 20.0, K.cy + K.fy * 1.65 / 20.0])
    np.testing.assert_allclose(uv[2], [K.cx, K.cy], atol=1e-9)


def test_covariance_grows_with_range() -> None:
    proj = GroundProjector(K, CameraPose(z_m=1.65))
    rng_m = np.array([5.0, 10.0, 20.0, 40.0, 70.0])
    uv = proj.to_image(np.c_[rng_m, np.zeros(5), np.zeros(5)])
    _, cov, valid = proj.to_ground(uv)
    assert valid.all()
    sigma_range = np.sqrt(cov[:, 0, 0])
    assert np.all(np.diff(sigma_range) > 0)
    # A v-pixel error of sigma moves the range by ~ sigma * Z^2 / (f h): quadratic in range.
    np.testing.assert_allclose(sigma_range, 2.0 * rng_m**2 / (K.fy * 1.65), rtol=1e-6)


def test_covariance_is_the_jacobian_of_the_projection() -> None:
    proj = GroundProjector(K, POSES[1])
    uv = np.array([[600.0, 300.0], [100.0, 250.0], [900.0, 220.0]])
    _, cov, _ = proj.to_ground(uv, sigma_px=np.array([1.0, 2.0, 3.0]))
    eps = 1e-3

    def f(p: np.ndarray) -> np.ndarray:
        return proj.to_ground(p)[0]

    jac = np.stack([(f(uv + [eps, 0]) - f(uv - [eps, 0])), (f(uv + [0, eps]) - f(uv - [0, eps]))], axis=2) / (
        2 * eps
    )
    expected = np.array([1.0, 4.0, 9.0])[:, None, None] * jac @ jac.transpose(0, 2, 1)
    np.testing.assert_allclose(cov, expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("uv", "why"),
    [
        ([609.0, 100.0], "above the horizon"),
        ([609.0, 172.854], "on the horizon"),
        ([609.0, 173.5], "beyond max_range_m"),
    ],
)
def test_invalid_points_are_nan(uv: list[float], why: str) -> None:
    proj = GroundProjector(K, CameraPose(z_m=1.65))
    xy, cov, valid = proj.to_ground(np.array([uv, [609.0, 300.0]]))
    assert not valid[0], why
    assert np.isnan(xy[0]).all() and np.isnan(cov[0]).all()
    assert valid[1] and np.isfinite(xy[1]).all()


def test_point_behind_camera_projects_to_nan() -> None:
    proj = GroundProjector(K, CameraPose(z_m=1.65))
    assert np.isnan(proj.to_image([[-5.0, 0.0, 0.0]])).all()


def test_intrinsics_validation_and_scaling() -> None:
    with pytest.raises(ValueError):
        CameraIntrinsics(0.0, 700.0, 600.0, 170.0, 1242, 375)
    half = K.scaled(621, 187)
    assert half.fx == pytest.approx(K.fx / 2) and half.cy == pytest.approx(K.cy * 187 / 375)
    assert CameraIntrinsics.from_k([700, 0, 320, 0, 710, 240, 0, 0, 1], 640, 480).fy == 710
