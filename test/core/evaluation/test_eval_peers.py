"""The peers the harness builds: each one's settings are the table's (and the docs' table), the boxmot
reproduction profile is boxmot's yaml defaults, and the adapters report real tracks."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lepton_perception.core.evaluation import peers
from lepton_perception.tools import eval_tracking

DOCS = Path(__file__).resolve().parents[3] / "docs" / "tracking.md"
RATE_HZ = 10.0

# Settings whose constructor argument is stored under another attribute, or only through a value
# derived from it: (peer, setting) -> (attribute, expected value at RATE_HZ, given the setting's value).
DERIVED: dict[tuple[str, str], tuple[str, Any]] = {
    # Optional birth threshold (the ByteTrack repo's track_thresh + 0.1): the attribute boxmot reads.
    ("bytetrack", "new_track_thresh"): ("det_thresh", lambda v: v),
    # Frame buffers are counted at 30 fps and scaled to the true rate: 30 -> 10 frames at 10 Hz.
    ("bytetrack", "track_buffer"): ("buffer_size", lambda v: int(RATE_HZ / 30.0 * v)),
    ("botsort", "track_buffer"): ("buffer_size", lambda v: int(RATE_HZ / 30.0 * v)),
    ("botsort", "use_cmc"): ("cmc", lambda v: None),
    ("ocsort", "asso_func"): ("asso_func_name", lambda v: v),
    ("cbiou", "lost_track_buffer"): ("maximum_frames_without_update", lambda v: int(RATE_HZ / 30.0 * v)),
}


def _implementation(tracker: peers.BoxTracker) -> Any:
    """The object that holds the settings inside each adapter."""
    if isinstance(tracker, peers.SortTracker):
        return tracker.sort
    assert isinstance(tracker, peers.BoxmotTracker | peers.RoboflowTracker)
    return tracker.tracker


@pytest.mark.parametrize("name", list(peers.PUBLISHED))
def test_harness_builds_each_peer_with_the_published_settings(name: str) -> None:
    tracker = peers.make_factories()[name](0, RATE_HZ)
    impl = _implementation(tracker)
    for key, value in peers.PUBLISHED[name].settings.items():
        attr, expect = DERIVED.get((name, key), (key, lambda v: v))
        assert getattr(impl, attr) == expect(value), (name, key)


def test_published_values_are_the_authors() -> None:
    """Pinned from the official repos (sources in the table); a change here must be a deliberate one."""
    s = {name: spec.settings for name, spec in peers.PUBLISHED.items()}
    assert (s["bytetrack"]["track_thresh"], s["bytetrack"]["min_conf"]) == (0.6, 0.1)
    assert s["bytetrack"]["match_thresh"] == 0.8 and "new_track_thresh" not in s["bytetrack"]
    assert (s["ocsort"]["det_thresh"], s["ocsort"]["inertia"], s["ocsort"]["max_age"]) == (0.6, 0.2, 30)
    assert (s["botsort"]["track_high_thresh"], s["botsort"]["new_track_thresh"]) == (0.6, 0.7)
    assert s["botsort"]["match_thresh"] == 0.8 and s["botsort"]["use_embeddings"] is False
    assert (s["cbiou"]["buffer_ratio_first"], s["cbiou"]["buffer_ratio_second"]) == (0.3, 0.5)
    assert s["sort"] == {"max_age": 1, "min_hits": 3, "iou_threshold": 0.3}


def test_docs_table_is_the_harness_table() -> None:
    assert peers.settings_table(peers.PUBLISHED) in DOCS.read_text()


def test_boxmot_profile_is_boxmot_yaml_defaults_not_constructor_defaults() -> None:
    """The README figures come from boxmot's yaml defaults; its constructors default to weaker
    thresholds (the cause of the old ~2 HOTA pedestrian gap)."""
    from boxmot.trackers.box.bytetrack.tracker import ByteTrack
    from boxmot.trackers.box.ocsort.tracker import OcSort

    specs = peers.boxmot_defaults()
    assert specs["ocsort"].settings["det_thresh"] == 0.6 and specs["ocsort"].settings["inertia"] == 0.1
    bytetrack = specs["bytetrack"].settings
    assert bytetrack["track_thresh"] == 0.6 and bytetrack["match_thresh"] == 0.9
    assert OcSort().det_thresh == 0.3 and ByteTrack().track_thresh == 0.45
    built = _implementation(peers.make_factories(profile="boxmot-defaults")["ocsort"](2, RATE_HZ))
    assert (built.det_thresh, built.inertia) == (0.6, 0.1)
    bot = _implementation(peers.make_factories(profile="boxmot-defaults")["botsort"](2, RATE_HZ))
    assert bot.cmc is None and bot.use_embeddings is False and bot.buffer_size == int(RATE_HZ / 30 * 40)


def test_bytetrack_birth_threshold_is_applied() -> None:
    """The ByteTrack repo starts tracks at track_thresh + 0.1; boxmot's class has no argument for it."""
    spec = peers.PeerSpec("ByteTrack", "boxmot", {"track_thresh": 0.6, "new_track_thresh": 0.7}, "repo")
    built = _implementation(peers.peer_factory("bytetrack", spec)(2, RATE_HZ))
    assert (built.track_thresh, built.det_thresh) == (0.6, 0.7)
    box = np.array([[100.0, 50.0, 140.0, 130.0]])
    tracker = peers.peer_factory("bytetrack", spec)(2, RATE_HZ)
    for k in range(3):  # a 0.65 box: above the high threshold but below the birth one
        assert len(tracker.update(box, np.array([0.65]), k / RATE_HZ)) == 0


def test_unknown_profile_raises() -> None:
    with pytest.raises(ValueError, match="unknown peer settings"):
        peers.make_factories(profile="tuned")


@pytest.mark.parametrize("name", list(peers.PUBLISHED))
def test_each_peer_keeps_one_id_on_a_moving_box(name: str) -> None:
    """A box moving 4 px per frame, score 0.9, for 12 frames: one id once confirmed, boxes near it."""
    tracker = peers.make_factories()[name](0, RATE_HZ)
    ids = set()
    for k in range(12):
        box = np.array([[100.0 + 4 * k, 50.0, 140.0 + 4 * k, 130.0]])
        rows = tracker.update(box, np.array([0.9]), k / RATE_HZ)
        assert rows.shape[1] == 5
        if k >= 4:
            assert len(rows) == 1 and np.allclose(rows[0, :4], box[0], atol=4.0), (name, k, rows)
            ids.add(int(rows[0, 4]))
    assert len(ids) == 1


def test_roboflow_adapter_drops_rows_without_track() -> None:
    """C-BIoU returns unmatched low-score detections with id -1: they are not tracks."""
    tracker = peers.make_factories()["cbiou"](0, RATE_HZ)
    rows = tracker.update(np.array([[10.0, 10.0, 50.0, 90.0]]), np.array([0.3]), 0.0)
    assert rows.shape == (0, 5)


def test_reproduction_rows_are_differences_to_the_readme() -> None:
    metrics = {"HOTA": 67.0, "IDF1": 82.0, "MOTA": 0.0, "IDSW": 0.0}
    result: dict[str, Any] = {
        "trackers": {"bytetrack": {"car": metrics, "pedestrian": metrics}},
        "kitti_sequences": list(peers.README_SEQUENCES),
    }
    rows = eval_tracking.reproduction(result)
    assert [(r["tracker"], r["class"]) for r in rows] == [("bytetrack", "car"), ("bytetrack", "pedestrian")]
    assert rows[0]["dHOTA"] == pytest.approx(67.0 - 66.93) and rows[1]["dIDF1"] == pytest.approx(82.0 - 56.65)
    assert eval_tracking.reproduction({**result, "kitti_sequences": ["0000"]}) == []
