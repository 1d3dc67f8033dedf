"""Crowd scenarios (issue #12): people crossing, a long occlusion, a flickering detector, and the same
video stamped at 7 Hz and at 10 Hz. People walk on the road plane and are seen by a KITTI-like camera;
their boxes are the projections of 0.6 m x 1.75 m upright rectangles with pixel noise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.core.tracking import MultiObjectTracker, TrackerConfig
from lepton_perception.core.types import Detections, Track, TrackState

PROJECTOR = GroundProjector(CameraIntrinsics(721.5, 721.5, 609.6, 172.9, 1242, 375), CameraPose(z_m=1.65))
PERSON = 0


def person_box(x: float, y: float) -> np.ndarray:
    foot, top, left, right = PROJECTOR.to_image(
        [[x, y, 0.0], [x, y, 1.75], [x, y + 0.3, 0.0], [x, y - 0.3, 0.0]]
    )
    return np.array([left[0], top[1], right[0], foot[1]])


# Walkers: ground position (x ahead, y left) in metres at time t seconds.
Walker = Callable[[float], tuple[float, float]]


def frames(
    walkers: list[Walker],
    n: int,
    seen: Callable[[int, int], bool] = lambda k, i: True,
    score: Callable[[int, int], float] = lambda k, i: 0.9,
    seed: int = 0,
) -> list[Detections]:
    """``n`` images of the walkers sampled every 0.1 s of *their* time (10 Hz video)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        idx = [i for i in range(len(walkers)) if seen(k, i)]
        boxes = np.array([person_box(*walkers[i](0.1 * k)) for i in idx]).reshape(-1, 4)
        boxes += rng.normal(0.0, 0.02, boxes.shape) * (boxes[:, 3:4] - boxes[:, 1:2])
        scores = np.array([score(k, i) for i in idx], np.float32)
        out.append(Detections(boxes.astype(np.float32), scores, np.full(len(idx), PERSON, np.int64)))
    return out


def run(
    dets: list[Detections], rate_hz: float = 10.0, config: TrackerConfig | None = None
) -> list[list[Track]]:
    tracker = MultiObjectTracker(config)
    return [tracker.step(d, k / rate_hz) for k, d in enumerate(dets)]


def identities(steps: list[list[Track]], dets: list[Detections], walkers: list[Walker]) -> list[list[int]]:
    """Per image, the id of the confirmed track whose box is nearest each walker's true box (-1: none)."""
    out = []
    for k, tracks in enumerate(steps):
        row = []
        for w in walkers:
            truth = person_box(*w(0.1 * k))
            live = [t for t in tracks if t.state != TrackState.TENTATIVE]
            err = [np.abs(t.box - truth).max() / (truth[3] - truth[1]) for t in live]
            row.append(live[int(np.argmin(err))].track_id if live and min(err) < 0.5 else -1)
        out.append(row)
    return out


def assert_one_id_each(ids: list[list[int]], after: int) -> None:
    per_walker = list(zip(*ids[after:]))
    for i, seq in enumerate(per_walker):
        assert len(set(seq)) == 1 and seq[0] != -1, f"walker {i}: ids {seq}"
    assert len({seq[0] for seq in per_walker}) == len(per_walker)


@pytest.mark.parametrize(("x_a", "x_b"), [(10.0, 10.0), (9.0, 12.0)])
def test_people_crossing_keep_their_ids(x_a: float, x_b: float) -> None:
    # Two people walking towards each other across the image at 1.4 m/s; they cross at t = 2.5 s.
    walkers = [lambda t: (x_a, 3.5 - 1.4 * t), lambda t: (x_b, -3.5 + 1.4 * t)]

    # The farther one is hidden behind the nearer one while they overlap (for x_a == x_b: one frame).
    def seen(k: int, i: int) -> bool:
        overlapping = abs(3.5 - 1.4 * 0.1 * k) < 0.4
        return not (overlapping and i == (1 if x_b > x_a else int(k % 2)))

    dets = frames(walkers, 50, seen)
    ids = identities(run(dets), dets, walkers)
    # Judged where the two are apart (> 1 m): while they overlap, "nearest box" is ambiguous.
    apart = [row for k, row in enumerate(ids) if abs(7.0 - 2.8 * 0.1 * k) > 1.0]
    assert_one_id_each(apart, after=3)


def test_occlusion_longer_than_a_second_keeps_the_id() -> None:
    # One person walks behind a parked van for 1.2 s; another keeps walking in view.
    walkers = [lambda t: (12.0, 4.0 - 1.2 * t), lambda t: (8.0, -4.0 + 0.8 * t)]
    dets = frames(walkers, 60, seen=lambda k, i: not (i == 0 and 20 <= k < 32))
    ids = identities(run(dets), dets, walkers)
    assert ids[19][0] == ids[40][0] != -1 and ids[40][0] == ids[-1][0]
    assert_one_id_each([row for k, row in enumerate(ids) if not 20 <= k < 32], after=3)


def test_flickering_detector_keeps_one_track_per_person() -> None:
    # Scores jump between 0.2 and 0.7 at random: low ones extend tracks, they never start or split them.
    rng = np.random.default_rng(3)
    flicker = rng.choice([0.2, 0.7], (60, 3))
    walkers = [lambda t: (10.0, 3.0 - 1.0 * t), lambda t: (14.0, -2.0 + 0.5 * t), lambda t: (7.0, 1.0)]
    dets = frames(walkers, 60, score=lambda k, i: float(flicker[k, i]) if k >= 3 else 0.7)
    steps = run(dets)
    assert_one_id_each(identities(steps, dets, walkers), after=3)
    assert {t.track_id for s in steps for t in s if t.state != TrackState.TENTATIVE} == {1, 2, 3}


def test_the_same_video_at_7_and_10_hz_gives_the_same_identities() -> None:
    # A crowd: five people, crossing paths, with random single-image misses and flickering scores.
    rng = np.random.default_rng(11)
    starts = [(9.0, 4.0, -1.3), (11.0, -4.0, 1.1), (14.0, 2.0, -0.6), (8.0, -1.0, 0.4), (18.0, 5.0, -1.5)]
    walkers = [lambda t, s=s: (s[0], s[1] + s[2] * t) for s in starts]
    missed = rng.random((80, 5)) < 0.1
    missed[1:] &= ~missed[:-1]  # single misses only
    missed[:3] = False
    flicker = rng.choice([0.3, 0.8], (80, 5), p=[0.3, 0.7])
    flicker[:3] = 0.8
    dets = frames(walkers, 80, seen=lambda k, i: not missed[k, i], score=lambda k, i: float(flicker[k, i]))
    ten = [[t.track_id for t in s] for s in run(dets, 10.0)]
    seven = [[t.track_id for t in s] for s in run(dets, 7.0)]
    assert ten == seven
    assert len({i for s in ten for i in s}) >= 5


@pytest.mark.parametrize("rate_hz", [7.0, 10.0])
@pytest.mark.parametrize("mode", ["auto", "always"])
def test_blinking_false_positive_in_a_crowd_is_never_confirmed(rate_hz: float, mode: str) -> None:
    # From image 5 on, the detector finds a false positive in two images out of three, at 0.75 (a
    # confident score), next to three people walking, detected at 0.9. Consecutive confirmation needs
    # min_hits consecutive images, so it never becomes a published track, at any frame rate; the people
    # keep one id each. "auto" has it on: the people are scored consistently. Without it ("never") it is
    # confirmed at 10 Hz, where its one-image gaps are within max_tentative_gap_s.
    walkers = [lambda t: (9.0, 4.0 - 1.3 * t), lambda t: (11.0, -4.0 + 1.1 * t), lambda t: (14.0, 2.0)]
    blinker: list[Walker] = [lambda t: (25.0, 9.0)]
    dets = frames(
        walkers + blinker,
        60,
        seen=lambda k, i: i < 3 or (k >= 5 and k % 3 != 2),
        score=lambda k, i: 0.9 if i < 3 else 0.75,
    )
    steps = run(dets, rate_hz, TrackerConfig(confirm_consecutive=mode))
    assert_one_id_each(identities(steps, dets, walkers), after=3)
    assert all(row == [-1] for row in identities(steps, dets, blinker))
    assert any(len(s) > 3 for s in steps)  # it does start (tentative) tracks
    if rate_hz == 10.0:
        never = run(dets, rate_hz, TrackerConfig(confirm_consecutive="never"))
        assert any(row != [-1] for row in identities(never, dets, blinker))
