"""Cross-camera fusion: one object one id across cameras, handover, covariance-weighted state, lifecycle."""

from __future__ import annotations

import numpy as np
import pytest

from lepton_perception.core.types import GroundState, Track, TrackState
from lepton_perception.core.world.fusion import FusionConfig, ObjectFusion


def track(
    tid: int,
    xy: tuple[float, float],
    v: tuple[float, float] = (0.0, 0.0),
    *,
    stamp: float = 0.0,
    std: float = 0.5,
    class_id: int = 2,
    coasting: bool = False,
) -> Track:
    cov = np.diag([std**2, std**2, 0.5**2, 0.5**2])
    return Track(
        track_id=tid, class_id=class_id, state=TrackState.COASTING if coasting else TrackState.CONFIRMED,
        box=np.zeros(4, np.float32), box_velocity_pxps=np.zeros(2, np.float32), score=0.9, stamp_s=stamp,
        age_s=1.0, hits=5, time_since_update_s=0.5 if coasting else 0.0,
        ground=GroundState(np.array(xy, float), np.array(v, float), cov),
    )  # fmt: skip


def test_two_overlapping_cameras_one_object_one_id() -> None:
    fusion = ObjectFusion()
    for k in range(5):
        t = 0.1 * k
        out = fusion.update({"left": [track(7, (10.0 + 0.3, 2.0), stamp=t)],
                             "front": [track(3, (10.0 - 0.3, 2.1), stamp=t)]}, t)  # fmt: skip
        assert len(out) == 1
        assert out[0].cameras == ("front", "left")
    assert out[0].ground.position_m == pytest.approx([10.0, 2.05], abs=1e-6)  # equal weights: the mean


def test_fused_state_weights_the_surer_camera() -> None:
    out = ObjectFusion().update(
        {"a": [track(1, (10.0, 0.0), std=0.2)], "b": [track(1, (11.0, 0.0), std=0.8)]}, 0.0
    )
    assert len(out) == 1
    x = out[0].ground.position_m[0]
    assert x == pytest.approx(10.0 + 1.0 * 0.04 / (0.04 + 0.64), abs=1e-6)
    assert out[0].ground.covariance[0, 0] < 0.2**2


def test_two_objects_in_one_camera_stay_two() -> None:
    out = ObjectFusion().update({"front": [track(1, (10.0, 0.0)), track(2, (10.0, 1.2))]}, 0.0)
    assert len({o.object_id for o in out}) == 2


def test_handover_between_cameras_keeps_the_id() -> None:
    """An object drives from the front camera's view into the left one's: tracks differ, id stays."""
    fusion, ids = ObjectFusion(), set()
    for k in range(40):
        t, x = 0.1 * k, 20.0 - 0.5 * k  # 5 m/s towards and past the ego
        cams: dict[str, list[Track]] = {"front": [], "left": []}
        if k < 25:
            cams["front"].append(track(11, (x, 3.0), (-5.0, 0.0), stamp=t))
        if k > 18:
            cams["left"].append(track(4, (x + 0.4, 3.0), (-5.0, 0.0), stamp=t))
        out = fusion.update(cams, t)
        assert len(out) == 1
        ids.add(out[0].object_id)
    assert len(ids) == 1
    assert out[0].cameras == ("left",)


def test_reacquired_track_in_the_same_camera_replaces_the_coasting_one() -> None:
    fusion = ObjectFusion()
    first = fusion.update({"front": [track(1, (10.0, 0.0))]}, 0.0)[0].object_id
    out = fusion.update(
        {"front": [track(1, (10.0, 0.0), stamp=0.1, coasting=True), track(9, (10.2, 0.0), stamp=0.1)]}, 0.1
    )
    assert [o.object_id for o in out] == [first]


def test_class_incompatible_tracks_do_not_fuse() -> None:
    out = ObjectFusion().update({"a": [track(1, (10.0, 0.0))], "b": [track(1, (10.1, 0.0), class_id=0)]}, 0.0)
    assert len(out) == 2


def test_objects_coast_then_are_deleted_after_max_coast() -> None:
    fusion = ObjectFusion(FusionConfig(max_coast_s=0.5))
    fusion.update({"front": [track(1, (10.0, 0.0), (2.0, 0.0))]}, 0.0)
    out = fusion.update({"front": []}, 0.4)
    assert len(out) == 1 and out[0].cameras == () and out[0].ground.position_m[0] == pytest.approx(10.8)
    assert fusion.update({"front": []}, 0.6) == []


@pytest.mark.parametrize(
    ("speeds", "expected"),
    [
        ([0.1, 0.1, 0.1], [True, True, True]),
        ([3.0, 3.0, 3.0], [False, False, False]),
        ([0.1, 0.9, 0.1], [True, True, True]),  # under the exit speed: stays stationary (hysteresis)
        ([3.0, 0.9, 0.3], [False, False, True]),  # under the exit speed but not under the enter one
    ],
)
def test_is_stationary_hysteresis(speeds: list[float], expected: list[bool]) -> None:
    fusion = ObjectFusion(
        FusionConfig(stationary_enter_mps=0.6, stationary_exit_mps=1.2, stationary_chi2=0.0)
    )
    got = []
    for k, s in enumerate(speeds):
        out = fusion.update({"front": [track(1, (10.0, 0.0), (s, 0.0), stamp=k * 0.1)]}, k * 0.1)
        got.append(out[0].is_stationary)
    assert got == expected


@pytest.mark.parametrize(("step_m", "stationary_at_end"), [(0.0, True), (0.2, False)])
def test_position_still_over_the_baseline_is_stationary(step_m: float, stationary_at_end: bool) -> None:
    """A 0.9 m/s velocity (over the enter speed) that does not move the position (fixes sliding along
    a parked car) is stationary once 2 s of history show it; 2 m/s of real displacement is not."""
    cfg = FusionConfig(
        stationary_enter_mps=0.6, stationary_exit_mps=1.2, stationary_chi2=0.0, stationary_baseline_s=2.0
    )
    fusion = ObjectFusion(cfg)
    got = []
    for k in range(31):
        t = 0.1 * k
        v = (0.9, 0.0) if step_m == 0.0 else (2.0, 0.0)
        out = fusion.update({"front": [track(1, (10.0 + step_m * k, 0.0), v, stamp=t, std=0.05)]}, t)
        got.append(out[0].is_stationary)
    assert not any(got[:20])  # under 2 s of history: the instantaneous rules alone
    assert got[-1] is stationary_at_end


@pytest.mark.parametrize(
    ("speed_mps", "shrunk"),
    [(0.3, True), (0.9, True), (3.0, False)],  # 0.3, 0.9: stationary; 3.0: moving, published as is
)
def test_stationary_velocity_is_weighted_by_its_significance(speed_mps: float, shrunk: bool) -> None:
    fusion = ObjectFusion(FusionConfig(stationary_enter_mps=1.0, stationary_exit_mps=1.2))
    out = fusion.update({"front": [track(1, (10.0, 0.0), (speed_mps, 0.0))]}, 0.0)[0]
    v = out.ground.velocity_mps
    assert out.is_stationary is shrunk
    assert v[1] == 0.0 and 0.0 <= v[0] <= speed_mps  # same direction, never amplified
    # The fused velocity covariance is the track's (0.5 m/s std): d2 = (speed / 0.5)^2.
    weight = 1.0 - np.exp(-0.5 * (speed_mps / 0.5) ** 2) if shrunk else 1.0
    assert v[0] == pytest.approx(speed_mps * weight, rel=0.05)


def test_time_going_backwards_is_an_error() -> None:
    fusion = ObjectFusion()
    fusion.update({}, 1.0)
    with pytest.raises(ValueError, match="backwards"):
        fusion.update({}, 0.5)


def test_objects_fused_together_get_the_numbers_they_get_alone() -> None:
    """The update works on all objects at once: far-apart objects must come out bit for bit as when
    each is the only one (batching is not allowed to change a single number)."""
    rng = np.random.default_rng(5)
    starts = [(10.0 + 25.0 * k, 3.0 * k) for k in range(4)]
    joint, alone = ObjectFusion(), [ObjectFusion() for _ in starts]
    for step in range(12):
        t = 0.1 * step
        per_object = [
            {
                cam: [
                    track(
                        10 * k + c,
                        (x + 1.5 * t + rng.normal(0, 0.2), y + rng.normal(0, 0.2)),
                        (1.5, 0.0),
                        stamp=t,
                        std=0.3 + 0.1 * c,
                    )
                ][: (step + k + c) % 5]  # each camera misses an object now and then (it coasts)
                for c, cam in enumerate(("front", "left"))
            }  # both cameras report every time (a silent camera keeps its members a while)
            for k, (x, y) in enumerate(starts)
        ]
        merged: dict[str, list[Track]] = {}
        for cams in per_object:
            for cam, tracks in cams.items():
                merged.setdefault(cam, []).extend(tracks)
        together = joint.update(merged, t)
        single = [f.update(cams, t) for f, cams in zip(alone, per_object)]
        assert len(together) == sum(len(s) for s in single) == len(starts)
        for got, (want,) in zip(sorted(together, key=lambda o: o.ground.position_m[0]), single):
            assert np.array_equal(got.ground.position_m, want.ground.position_m)
            assert np.array_equal(got.ground.velocity_mps, want.ground.velocity_mps)
            assert np.array_equal(got.ground.covariance, want.ground.covariance)
            assert np.array_equal(got.history, want.history)
            assert (got.is_stationary, got.cameras, got.score) == (
                want.is_stationary,
                want.cameras,
                want.score,
            )
