"""The track store and the tracker's configuration schema."""

import dataclasses

import numpy as np
import pytest

from lepton_perception.core.schema import meta_of
from lepton_perception.core.tracking import TrackerConfig
from lepton_perception.core.tracking.store import GroundHistory, TrackStore


def _store(ids: list[int]) -> TrackStore:
    n = len(ids)
    s = TrackStore(ids=np.array(ids, np.int64), x=np.arange(n * 8, dtype=float).reshape(n, 8))
    for f in dataclasses.fields(TrackStore):  # every other field: n rows of its per-track shape
        if f.name not in ("ids", "x", "history"):
            empty = getattr(s, f.name)
            setattr(s, f.name, np.zeros((n, *empty.shape[1:]), empty.dtype))
    s.history = [GroundHistory() for _ in ids]
    return s


def test_keep_and_append_cover_every_field() -> None:
    s = _store([1, 2, 3])
    s.append(_store([4]))
    s.keep(np.array([True, False, True, True]))
    assert s.ids.tolist() == [1, 3, 4] and len(s) == 3
    for f in dataclasses.fields(TrackStore):
        assert len(getattr(s, f.name)) == 3, f.name
    np.testing.assert_array_equal(s.x[1], np.arange(16, 24))


def test_every_tracker_field_has_a_schema_and_its_default_is_in_range() -> None:
    for f in dataclasses.fields(TrackerConfig):
        meta = meta_of(f)
        assert meta is not None and meta.description and meta.live, f.name
        if isinstance(f.default, str | bool):
            continue  # a choice or a switch
        assert meta.lo is not None and meta.hi is not None and meta.lo <= f.default <= meta.hi, f.name


@pytest.mark.parametrize(
    "bad",
    [
        {"measurement_noise_h": 0.0},  # noises > 0
        {"accel_noise_hps2": -1.0},
        {"max_coast_s": 1e6},
        {"initial_speed_mps": float("nan")},
        {"iou_gate": 1.5},
    ],
)
def test_physical_ranges_are_enforced(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrackerConfig(**bad)
