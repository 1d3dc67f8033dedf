"""Invariants of the tracker over random detection streams (hypothesis), and its handling of time.

Whatever the detections and the gaps between stamps (0 s repeats, frame rates from 5 to 30 Hz,
dropouts of seconds, a day): ids are unique and never reused, covariances symmetric positive
semi-definite, no track outlives its coast time of stamp time, and no ground position is extrapolated
further than its coast horizon from the track's last ground fix.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.core.ground import BoxFootLocator
from lepton_perception.core.tracking import MultiObjectTracker, TrackerConfig
from lepton_perception.core.types import Detections, Track, TrackState

LOCATOR = BoxFootLocator(
    GroundProjector(CameraIntrinsics(721.5, 721.5, 609.6, 172.9, 1242, 375), CameraPose(z_m=1.65))
)
CONFIG = TrackerConfig(min_hits=2)
GAPS_S = (0.0, 1 / 30, *(0.1,) * 12, 0.2, 0.7, 1.4, 3.0, 86400.0)  # mostly 10 Hz


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[float, Detections]]:
    """A few objects moving in the image at random velocities, seen with noise, misses, flickering
    scores and false positives, at random gaps."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_obj = draw(st.integers(0, 6))
    n_steps = draw(st.integers(1, 60))
    gaps = draw(st.lists(st.sampled_from(GAPS_S), min_size=n_steps, max_size=n_steps))
    centre = rng.uniform([100, 60], [1100, 330], (n_obj, 2))  # some feet above the horizon (y 173)
    size = rng.uniform([15, 20], [120, 150], (n_obj, 2))
    vel = rng.normal([0, -30], [80, 30], (n_obj, 2))  # px/s, drifting up: feet cross the horizon
    classes = rng.choice([0, 2], n_obj)
    t, out = draw(st.floats(0.0, 1e6)), []
    for gap in gaps:
        t += gap
        c = centre + vel * (t % 4.0)  # drifts, and jumps back every 4 s
        boxes = np.c_[c - size / 2, c + size / 2] + rng.normal(0, 2, (n_obj, 4))
        seen = rng.random(n_obj) > 0.2
        n_fp = int(rng.integers(0, 3))
        fp_c = rng.uniform([0, 150], [1242, 375], (n_fp, 2))
        fp = np.c_[fp_c - 20, fp_c + 20]
        b = np.concatenate([boxes[seen], fp]).astype(np.float32)
        s = rng.choice([0.05, 0.2, 0.5, 0.7, 0.95], len(b)).astype(np.float32)
        k = np.concatenate([classes[seen], rng.choice([0, 2], n_fp)]).astype(np.int64)
        out.append((t, Detections(b, s, k)))
    return out


def check_invariants(tracks: list[Track], stamp_s: float, config: TrackerConfig, seen_ids: set[int]) -> None:
    ids = [tr.track_id for tr in tracks]
    assert len(ids) == len(set(ids))
    for tr in tracks:
        limit = config.max_tentative_gap_s if tr.state == TrackState.TENTATIVE else config.max_coast_s
        assert 0.0 <= tr.time_since_update_s <= limit + 1e-9
        assert tr.age_s >= tr.time_since_update_s - 1e-9
        assert np.isfinite(tr.box).all() and np.isfinite(tr.box_velocity_pxps).all()
        if tr.ground is None:
            continue
        cov = tr.ground.covariance
        assert np.allclose(cov, cov.T, rtol=1e-9, atol=1e-9)
        assert np.linalg.eigvalsh(cov).min() >= -1e-9 * max(1.0, float(np.abs(cov).max()))
        last_t, last_x, last_y = tr.history[-1]
        coast = stamp_s - last_t
        assert 0.0 <= coast <= config.max_coast_s + 1e-9
        # Constant-velocity coasting: position = last filtered position + velocity x time since.
        step = np.linalg.norm(tr.ground.position_m - [last_x, last_y])
        assert step <= np.linalg.norm(tr.ground.velocity_mps) * config.max_coast_s + 1e-6
    new = set(ids) - seen_ids
    assert not new or min(new) > max(seen_ids, default=0)  # never reused
    seen_ids.update(ids)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_invariants_hold_over_random_streams(stream: list[tuple[float, Detections]]) -> None:
    tracker = MultiObjectTracker(CONFIG)
    seen: set[int] = set()
    for stamp_s, dets in stream:
        check_invariants(tracker.step(dets, stamp_s, LOCATOR), stamp_s, CONFIG, seen)


def _still_car(stamp_s: float) -> Detections:
    box = np.array([[600, 190, 660, 240]], np.float32)  # a car about 20 m ahead
    return Detections(box, np.array([0.9], np.float32), np.array([2]))


def test_a_day_long_gap_expires_tracks_instead_of_extrapolating_them() -> None:
    tracker = MultiObjectTracker(CONFIG)
    moving = None
    for k in range(10):
        box = np.array([[600 + 15 * k, 190, 660 + 15 * k, 240]], np.float32)  # moving right
        moving = tracker.step(Detections(box, np.array([0.9], np.float32), np.array([2])), 0.1 * k, LOCATOR)
    assert moving and moving[0].ground is not None and np.linalg.norm(moving[0].ground.velocity_mps) > 1.0
    later = 0.9 + 86400.0
    assert tracker.step(Detections.empty(), later, LOCATOR) == []
    # The same place a day later is a new object, not the old track come back.
    again = tracker.step(_still_car(later + 0.1), later + 0.1, LOCATOR)
    assert [t.track_id for t in again] == [moving[0].track_id + 1]


def test_coasting_positions_stop_at_the_coast_horizon() -> None:
    cfg = TrackerConfig(min_hits=1, max_coast_s=1.0)
    tracker = MultiObjectTracker(cfg)
    for k in range(10):
        box = np.array([[600 + 15 * k, 190, 660 + 15 * k, 240]], np.float32)
        tracker.step(Detections(box, np.array([0.9], np.float32), np.array([2])), 0.1 * k, LOCATOR)
    coasting = [tracker.step(Detections.empty(), 0.9 + g, LOCATOR) for g in (0.5, 1.0, 1.05)]
    assert [len(c) for c in coasting] == [1, 1, 0]
    assert coasting[1][0].time_since_update_s == pytest.approx(1.0)


def test_ground_state_expires_when_fixes_stop_but_boxes_match() -> None:
    """Boxes above the horizon give no ground fix: the ground state is dropped after the coast time
    rather than extrapolated for as long as the box track lives."""
    cfg = TrackerConfig(min_hits=1, max_coast_s=0.5)
    tracker = MultiObjectTracker(cfg)
    low = np.array([[600, 190, 660, 240]], np.float32)  # foot below the horizon: a fix
    high = np.array([[600, 60, 660, 110]], np.float32)  # foot above the horizon: no fix
    one = (np.array([0.9], np.float32), np.array([2]))
    assert tracker.step(Detections(low, *one), 0.0, LOCATOR)[0].ground is not None
    for k in range(1, 6):  # the box slides up; IoU keeps it matched
        box = low + (high - low) * k / 5
        tracker.step(Detections(box.astype(np.float32), *one), 0.1 * k, LOCATOR)
    out = [tracker.step(Detections(high, *one), 0.5 + 0.1 * k, LOCATOR)[0] for k in range(1, 4)]
    assert out[-1].state == TrackState.CONFIRMED and out[-1].ground is None


@pytest.mark.parametrize("stamp", [math.nan, math.inf, -math.inf, -1.0])
def test_invalid_stamps_are_refused(stamp: float) -> None:
    tracker = MultiObjectTracker()
    with pytest.raises(ValueError, match="stamp must be finite and >= 0 s"):
        tracker.step(Detections.empty(), stamp)
    assert tracker.step(_still_car(1.0), 1.0) != []  # still usable


def test_backward_stamps_are_refused_without_losing_tracks() -> None:
    tracker = MultiObjectTracker(TrackerConfig(min_hits=1))
    tid = tracker.step(_still_car(1.0), 1.0)[0].track_id
    with pytest.raises(ValueError, match=r"time went backwards: 0\.990000 s < 1\.000000 s"):
        tracker.step(_still_car(0.99), 0.99)
    assert [t.track_id for t in tracker.step(_still_car(1.1), 1.1)] == [tid]
