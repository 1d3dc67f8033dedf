"""Scenario tests of the tracker: known ground motion seen by a KITTI-like camera."""

import dataclasses

import numpy as np
import pytest

from lepton_perception.core.camera import CameraIntrinsics, CameraPose, GroundProjector
from lepton_perception.core.ground import BoxFootLocator, FusedGroundLocator
from lepton_perception.core.tracking import MultiObjectTracker, TrackerConfig
from lepton_perception.core.tracking.confirmation import consecutive_delay_ratio
from lepton_perception.core.types import Detections, Track, TrackState

PROJECTOR = GroundProjector(
    CameraIntrinsics(721.5377, 721.5377, 609.5593, 172.854, 1242, 375), CameraPose(z_m=1.65)
)
LOCATOR = BoxFootLocator(PROJECTOR)
# Cars on the road: start (x, y) m in the vehicle frame and constant velocity (vx, vy) m/s.
OBJECTS = [((15.0, 4.0), (5.0, 0.0)), ((30.0, -2.0), (-3.0, 0.0)), ((10.0, -7.0), (1.0, 0.5))]
CAR = 2  # COCO car


def car_box(x: float, y: float, width_m: float = 1.8, height_m: float = 1.5) -> np.ndarray:
    """Image box whose bottom centre is the ground point (x, y)."""
    foot, top, left, right = PROJECTOR.to_image(
        [[x, y, 0.0], [x, y, height_m], [x, y + width_m / 2, 0.0], [x, y - width_m / 2, 0.0]]
    )
    w = right[0] - left[0]
    return np.array([foot[0] - w / 2, top[1], foot[0] + w / 2, foot[1]])


def scene(stamp_s: float, rng: np.random.Generator, hidden: set[int] = frozenset()) -> Detections:
    boxes = [
        car_box(x0 + vx * stamp_s, y0 + vy * stamp_s)
        for k, ((x0, y0), (vx, vy)) in enumerate(OBJECTS)
        if k not in hidden
    ]
    b = np.array(boxes).reshape(-1, 4) + rng.normal(0.0, 0.5, (len(boxes), 4))
    return Detections(b.astype(np.float32), np.full(len(b), 0.9, np.float32), np.full(len(b), CAR, np.int64))


def run(stamps: np.ndarray, hidden_at=lambda t: set()) -> list[list[Track]]:
    rng = np.random.default_rng(7)
    tracker = MultiObjectTracker()
    return [tracker.step(scene(float(t), rng, hidden_at(t)), float(t), LOCATOR) for t in stamps]


def final_velocities(tracks: list[Track], t: float) -> list[np.ndarray]:
    """Ground velocity of the track nearest to each object's true position at ``t``."""
    out = []
    for (x0, y0), (vx, vy) in OBJECTS:
        truth = np.array([x0 + vx * t, y0 + vy * t])
        near = min(
            (tr for tr in tracks if tr.ground is not None),
            key=lambda tr: np.linalg.norm(tr.ground.position_m - truth),
        )
        assert np.linalg.norm(near.ground.position_m - truth) < 1.0
        out.append(near.ground.velocity_mps)
    return out


def test_dropped_frames_give_the_same_velocities() -> None:
    full = np.arange(0, 51) * 0.1  # 10 Hz for 5 s
    half = full[::2]  # every second frame removed
    v_full = final_velocities(run(full)[-1], 5.0)
    v_half = final_velocities(run(half)[-1], 5.0)
    for vf, vh, (_, truth) in zip(v_full, v_half, OBJECTS):
        speed = np.linalg.norm(truth)
        assert np.linalg.norm(vh - vf) <= 0.1 * np.linalg.norm(vf)
        assert np.linalg.norm(vf - truth) <= 0.1 * speed
        assert np.linalg.norm(vh - truth) <= 0.1 * speed


@pytest.mark.parametrize("rate_hz", [10.0, 15.0])
def test_id_survives_one_second_occlusion(rate_hz: float) -> None:
    stamps = np.arange(0, int(5 * rate_hz) + 1) / rate_hz
    # Object 0 is not detected for 1 s: last seen at 2.0 s, seen again at 3.0 s + one frame.
    steps = run(stamps, hidden_at=lambda t: {0} if 2.0 < t <= 3.0 + 1e-9 else set())

    def id_of_object0(tracks: list[Track], t: float) -> int:
        (x0, y0), (vx, vy) = OBJECTS[0]
        truth = np.array([x0 + vx * t, y0 + vy * t])
        confirmed = [tr for tr in tracks if tr.state == TrackState.CONFIRMED and tr.ground is not None]
        near = min(confirmed, key=lambda tr: np.linalg.norm(tr.ground.position_m - truth))
        assert np.linalg.norm(near.ground.position_m - truth) < 1.0
        return near.track_id

    k_before = int(np.searchsorted(stamps, 2.0 - 1e-9))
    before = id_of_object0(steps[k_before], stamps[k_before])
    during = steps[k_before + 5]
    assert any(tr.track_id == before and tr.state == TrackState.COASTING for tr in during)
    k_after = int(np.searchsorted(stamps, 3.0 + 1e-9)) + 1
    assert id_of_object0(steps[k_after], stamps[k_after]) == before
    assert id_of_object0(steps[-1], stamps[-1]) == before
    assert len({tr.track_id for s in steps for tr in s}) == len(OBJECTS)  # no spurious tracks


def test_time_going_backwards_raises() -> None:
    tracker = MultiObjectTracker()
    tracker.step(Detections.empty(), 1.0)
    tracker.step(Detections.empty(), 1.0)  # same stamp is allowed (dt = 0)
    with pytest.raises(ValueError, match="backwards"):
        tracker.step(Detections.empty(), 0.5)
    with pytest.raises(ValueError, match="finite"):
        tracker.step(Detections.empty(), float("nan"))


def test_ids_belong_to_the_instance() -> None:
    rng = np.random.default_rng(0)
    a, b = MultiObjectTracker(), MultiObjectTracker()
    ids_a = [tr.track_id for tr in a.step(scene(0.0, rng), 0.0)]
    ids_b = [tr.track_id for tr in b.step(scene(0.0, rng), 0.0)]
    assert ids_a == ids_b == [1, 2, 3]


def test_nan_and_empty_boxes_are_counted_and_skipped() -> None:
    tracker = MultiObjectTracker()
    boxes = np.array(
        [[np.nan, 0, 10, 10], [0, 0, 0, 10], [100, 100, 140, 180], [0, 0, 10, np.inf]], np.float32
    )
    scores = np.array([0.9, 0.9, 0.9, 0.9], np.float32)
    tracks = tracker.step(Detections(boxes, scores, np.full(4, CAR, np.int64)), 0.0)
    assert tracker.skipped_detections == 3
    assert len(tracks) == 1 and np.isfinite(tracks[0].box).all()


def _dets(boxes: list[list[float]], scores: list[float]) -> Detections:
    return Detections(np.array(boxes, np.float32), np.array(scores, np.float32), np.full(len(scores), CAR))


@pytest.mark.parametrize("confirm_first_image", [True, False])
def test_ground_is_published_after_min_hits_fixes(confirm_first_image: bool) -> None:
    # Confirmed at once in the first image, a track still keeps its ground state (one or two fixes:
    # metres of jitter at range) off its snapshots until min_hits matches; tentative tracks as before.
    tracker = MultiObjectTracker(TrackerConfig(min_hits=3, confirm_first_image=confirm_first_image))
    rng = np.random.default_rng(1)
    steps = [tracker.step(scene(0.1 * k, rng), 0.1 * k, LOCATOR) for k in range(4)]
    state = TrackState.CONFIRMED if confirm_first_image else TrackState.TENTATIVE
    assert [t.state for t in steps[0]] == [state] * 3
    has_ground = [[t.ground is not None for t in s] for s in steps]
    early = [False] * 3 if confirm_first_image else [True] * 3
    assert has_ground == [early, early, [True] * 3, [True] * 3]


def test_lifecycle_in_hits_and_seconds() -> None:
    cfg = TrackerConfig(min_hits=3, max_coast_s=0.5)
    tracker = MultiObjectTracker(cfg)
    box = np.array([[500, 150, 560, 200]], np.float32)
    det = Detections(box, np.array([0.9], np.float32), np.array([CAR]))
    tracker.step(Detections.empty(), 0.0)  # the stream's first image (confirm_first_image: test below)
    states = [tracker.step(det, 0.1 * (k + 1))[0].state for k in range(3)]
    assert states == [TrackState.TENTATIVE, TrackState.TENTATIVE, TrackState.CONFIRMED]
    coast = tracker.step(Detections.empty(), 0.4)
    assert coast[0].state == TrackState.COASTING and coast[0].time_since_update_s == pytest.approx(0.1)
    assert len(tracker.step(Detections.empty(), 0.8)) == 1  # 0.5 s unmatched: still coasting
    assert tracker.step(Detections.empty(), 0.9) == []  # 0.6 s > max_coast_s: deleted


@pytest.mark.parametrize(
    ("confirm_first_image", "first", "second"),
    [
        # ByteTrack / BoT-SORT: no track can have been confirmed before the first image, so its
        # confident detections are reported at once; later births still need min_hits.
        (True, [TrackState.CONFIRMED], [TrackState.CONFIRMED, TrackState.TENTATIVE]),
        (False, [TrackState.TENTATIVE], [TrackState.TENTATIVE, TrackState.TENTATIVE]),
    ],
)
def test_first_image_confirmation(
    confirm_first_image: bool, first: list[TrackState], second: list[TrackState]
) -> None:
    tracker = MultiObjectTracker(TrackerConfig(min_hits=3, confirm_first_image=confirm_first_image))
    a, b = [500, 150, 560, 200], [100, 150, 160, 200]
    # The low-score detection (b) is no birth, in the first image or later.
    assert [t.state for t in tracker.step(_dets([a, b], [0.9, 0.3]), 0.0)] == first
    assert [t.state for t in tracker.step(_dets([a, b], [0.9, 0.9]), 0.1)] == second


@pytest.mark.parametrize("dt", [0.04, 0.1, 0.2, 0.5])
def test_low_score_detections_extend_but_never_start_tracks(dt: float) -> None:
    tracker = MultiObjectTracker(TrackerConfig(min_hits=1))
    box = np.array([[500, 150, 560, 200]], np.float32)
    low = Detections(box, np.array([0.3], np.float32), np.array([CAR]))
    high = Detections(box, np.array([0.9], np.float32), np.array([CAR]))
    assert tracker.step(low, 0.0) == []
    tid = tracker.step(high, dt)[0].track_id
    out = tracker.step(low, 2 * dt)  # whatever the frame rate
    assert [(t.track_id, t.state, t.hits) for t in out] == [(tid, TrackState.CONFIRMED, 2)]
    tracker.step(Detections.empty(), 3 * dt)
    # Unmatched in the previous image: low-score detections no longer extend it.
    assert [t.hits for t in tracker.step(low, 4 * dt)] == [2]


@pytest.mark.parametrize("rate_hz", [5.0, 7.0, 10.0, 25.0])
@pytest.mark.parametrize("consecutive", [True, False])
def test_confirmation_needs_consecutive_images(rate_hz: float, consecutive: bool) -> None:
    # A new track seen, missed once, then seen again: with confirm_consecutive (ByteTrack, OC-SORT, SORT)
    # it is removed at the miss, at any frame rate, and the detections after it start a new track.
    mode = "always" if consecutive else "never"
    tracker = MultiObjectTracker(TrackerConfig(min_hits=3, confirm_consecutive=mode))
    box = [500, 150, 560, 200]
    tracker.step(Detections.empty(), 0.0)  # the stream's first image (confirm_first_image)
    seen = [True, True, False, True, True, True]
    out = [
        tracker.step(_dets([box], [0.9]) if s else Detections.empty(), (k + 1) / rate_hz)
        for k, s in enumerate(seen)
    ]
    first = out[0][0].track_id
    assert [(t.track_id, t.state) for t in out[2]] == [(first, TrackState.TENTATIVE)]
    # Without the rule only max_tentative_gap_s (0.25 s) applies: a miss survives at 10 and 25 Hz.
    if consecutive or 2.0 / rate_hz > TrackerConfig().max_tentative_gap_s:
        assert [t.track_id for t in out[3]] == [first + 1]
        assert [t.state for t in out[-1]] == [TrackState.CONFIRMED]  # 3 consecutive hits
    else:
        assert [(t.track_id, t.state) for t in out[3]] == [(first, TrackState.CONFIRMED)]


def test_low_score_stage_extends_only_confidently_detected_tracks() -> None:
    # An isolated false positive: three images at 0.75, then weak detections (0.4) on the same spot.
    # The low-score stage carries it only while at least half its matches are confident (its 3 matches at
    # 0.75 carry 4 at 0.4), then it coasts and is deleted; without the rule every weak one extends it.
    box = [500, 150, 560, 200]
    for confident_only, matched in [(True, 7), (False, 13)]:
        tracker = MultiObjectTracker(TrackerConfig(low_stage_confident_only=confident_only))
        tracker.step(Detections.empty(), 0.0)
        scores = [0.75] * 3 + [0.4] * 10
        out = [tracker.step(_dets([box], [s]), 0.1 * (k + 1))[0] for k, s in enumerate(scores)]
        assert len({t.track_id for t in out}) == 1
        assert sum(t.state == TrackState.CONFIRMED for t in out) == matched - 2  # 2 images tentative
        assert out[-1].hits == matched
    # A person seen confidently for 2 s goes through a 1 s score dip matched in every image.
    tracker = MultiObjectTracker()
    tracker.step(Detections.empty(), 0.0)
    scores = [0.9] * 20 + [0.4] * 10 + [0.9] * 5
    out = [tracker.step(_dets([box], [s]), 0.1 * (k + 1))[0] for k, s in enumerate(scores)]
    assert len({t.track_id for t in out}) == 1
    assert all(t.state == TrackState.CONFIRMED for t in out[2:]) and out[-1].hits == len(scores)


def test_class_aware_association() -> None:
    tracker = MultiObjectTracker(TrackerConfig(min_hits=1))
    box = np.array([[500, 150, 560, 200]], np.float32)
    car = tracker.step(Detections(box, np.array([0.9], np.float32), np.array([CAR])), 0.0)
    person = tracker.step(Detections(box, np.array([0.9], np.float32), np.array([0])), 0.1)
    assert {t.class_id for t in person} == {CAR, 0}
    assert len({t.track_id for t in person} | {car[0].track_id}) == 2


def test_snapshots_ground_state_and_history() -> None:
    stamps = np.arange(0, 21) * 0.1
    last = run(stamps)[-1]
    for tr in last:
        rebuilt = Track(**{f.name: getattr(tr, f.name) for f in dataclasses.fields(Track)})
        assert repr(rebuilt) == repr(tr)
        assert tr.ground is not None and tr.ground.covariance.shape == (4, 4)
        assert np.all(np.linalg.eigvalsh(tr.ground.covariance) > 0)
        h = tr.history
        assert h.shape[1] == 3 and np.all(np.diff(h[:, 0]) > 0) and h[-1, 0] == pytest.approx(2.0)
        np.testing.assert_allclose(h[-1, 1:], tr.ground.position_m)
        with pytest.raises(ValueError):
            h[0, 0] = 0.0  # snapshots are read-only
    near, far = sorted(last, key=lambda t: float(np.linalg.norm(t.ground.position_m)))[::2]
    assert np.trace(far.ground.covariance[:2, :2]) > np.trace(near.ground.covariance[:2, :2])


def test_history_keeps_only_history_s() -> None:
    tracker = MultiObjectTracker(TrackerConfig(history_s=1.0))
    rng = np.random.default_rng(0)
    for k in range(50):  # > 32 rows: exercises the ring buffer's compaction
        out = tracker.step(scene(0.1 * k, rng), 0.1 * k, LOCATOR)
    assert len(out) == len(OBJECTS)
    for tr in out:
        assert tr.history[0, 0] >= 4.9 - 1.0 - 1e-9 and len(tr.history) == 11


@pytest.mark.parametrize(
    "bad",
    [
        {"low_score": 0.8},
        {"high_score": 1.5},
        {"min_hits": 0},
        {"max_coast_s": -1.0},
        {"reupdate_step_s": 0.0},
    ],
)
def test_invalid_config_is_rejected(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TrackerConfig(**bad)


def _blinking_then_steady(tracker: MultiObjectTracker, person_score: float) -> list[list]:
    """Two people matched for 3 s at ``person_score`` or 0.9, then a detection blinking two images in
    three at 0.9 on an empty spot: the images' confirmed track ids."""
    people = [[100, 150, 160, 300], [300, 150, 360, 300]]
    blink = [600, 150, 660, 300]
    tracker.step(Detections.empty(), 0.0)
    out = []
    for k in range(60):
        scores = [person_score if k % 2 else 0.9] * 2  # every other detection at person_score
        boxes = people + ([blink] if k >= 30 and k % 3 != 2 else [])
        scores += [0.9] * (len(boxes) - 2)
        tracks = tracker.step(_dets(boxes, scores), 0.1 * (k + 1))
        out.append(sorted(t.track_id for t in tracks if t.state == TrackState.CONFIRMED))
    return out


@pytest.mark.parametrize(("person_score", "blinker_confirmed"), [(0.9, False), (0.5, True)])
def test_auto_consecutive_confirmation_follows_the_detectors_consistency(
    person_score: float, blinker_confirmed: bool
) -> None:
    # "auto": the people the tracker follows tell how consistently the detector scores its objects.
    # Scored >= high_score throughout, consecutive confirmation costs them nothing: it is on and the
    # blinking detection (hits in pairs) never confirms. Scored 0.5 in every other image (p = 0.5: three
    # consecutive confident detections take 7/3 times as long as any three), it is off and the blinking
    # detection confirms as any object seen in 3 of 4 images would.
    tracker = MultiObjectTracker(TrackerConfig(confirm_consecutive="auto"))
    out = _blinking_then_steady(tracker, person_score)
    people = set(out[29])
    assert len(people) == 2 and all(set(ids) >= people for ids in out[30:])
    assert any(set(ids) - people for ids in out[30:]) is blinker_confirmed
    assert tracker._consecutive() is not blinker_confirmed


def test_consecutive_delay_ratio() -> None:
    assert consecutive_delay_ratio(1.0, 3) == pytest.approx(1.0)
    assert consecutive_delay_ratio(0.5, 3) == pytest.approx((2 + 4 + 8) / 6)  # 14 images against 6
    assert consecutive_delay_ratio(0.54, 3) == pytest.approx(11.63 / 5.56, rel=1e-3)
    assert consecutive_delay_ratio(0.0, 3) == float("inf")
    assert consecutive_delay_ratio(0.7, 1) == pytest.approx(1.0)  # one hit: no difference


def test_a_person_walking_up_to_the_camera_keeps_a_ground_position_after_the_feet_leave_the_image() -> None:
    """A person walks from 12 m to 3 m in front of a stopped camera and stands there for 3 s, twice
    the coast time: the feet leave the image at ~6.4 m. The near-field fix keeps the track's ground
    state (world-frame consumers keep the person); without it the ground state expires after
    ``max_coast_s`` with the person still standing there."""
    proj = GroundProjector(CameraIntrinsics(720.0, 720.0, 620.0, 180.0, 1242, 375), CameraPose(z_m=1.65))

    def person(x_m: float) -> Detections:
        uv = proj.to_image(np.array([[x_m, 0.3, 0.0], [x_m, -0.3, 1.75]]))
        box = np.clip([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()], 0.0, [1242, 375] * 2)
        return Detections(np.array([box], np.float32), np.array([0.9], np.float32), np.array([0]))

    cfg = TrackerConfig()
    for near_field in (True, False):
        tracker, locator = MultiObjectTracker(cfg), FusedGroundLocator(proj, near_field=near_field)
        ranges = []
        for k in range(120):  # 10 Hz: 9 s walking at 1 m/s, then 3 s standing at 3 m
            t = 0.1 * k
            x = max(12.0 - 1.0 * t, 3.0)
            (trk,) = tracker.step(person(x), t, locator)
            ranges.append(None if trk.ground is None else float(np.linalg.norm(trk.ground.position_m)))
        standing = ranges[-int(2 * cfg.max_coast_s / 0.1) :]  # the last 3 s: standing at 3 m
        if near_field:
            assert all(r is not None and r < 6.5 for r in standing)  # kept, and nearer than the edge
        else:
            assert standing[-1] is None  # lost: no fix for longer than max_coast_s
