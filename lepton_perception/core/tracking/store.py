"""All per-track state of one tracker as stacked arrays (row i = track i), in one dataclass.

Every field is an array with one row per track, except ``history`` (one Python object per track).
``keep`` and ``append`` walk ``dataclasses.fields``, so a new field needs no second list to update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _rows(*shape: int, dtype: Any = np.float64) -> Callable[[], Any]:
    """Default factory: zero rows of per-track ``shape``."""
    return lambda: np.zeros((0, *shape), dtype)


@dataclass
class TrackStore:
    """N tracks. Image boxes in px, ground in the locator's frame (m, m/s), times in seconds."""

    ids: I64 = field(default_factory=_rows(dtype=np.int64))  # (N,) unique within one tracker
    class_ids: I64 = field(default_factory=_rows(dtype=np.int64))  # (N,) COCO class
    scores: F64 = field(default_factory=_rows())  # (N,) score of the last matched detection
    first_s: F64 = field(default_factory=_rows())  # (N,) stamp of the first detection
    last_s: F64 = field(default_factory=_rows())  # (N,) stamp of the last matched detection
    hits: I64 = field(default_factory=_rows(dtype=np.int64))  # (N,) matched detections
    high_hits: I64 = field(default_factory=_rows(dtype=np.int64))  # (N,) of those, scored >= high_score
    confirmed: BoolArray = field(default_factory=_rows(dtype=np.bool_))  # (N,)
    slow: BoolArray = field(
        default_factory=_rows(dtype=np.bool_)
    )  # (N,) pedestrian-like class: gentler motion noise
    box_q: F64 = field(
        default_factory=_rows(4)
    )  # (N, 4) white-acceleration variance of [cx, cy, w, h], box heights^2 / s^4
    x: F64 = field(default_factory=_rows(8))  # (N, 8) [cx, cy, w, h, vcx, vcy, vw, vh] px, px/s
    P: F64 = field(default_factory=_rows(8, 8))  # (N, 8, 8)
    x_obs: F64 = field(
        default_factory=_rows(8)
    )  # (N, 8) filter state right after the last update (for the re-update)
    P_obs: F64 = field(default_factory=_rows(8, 8))  # (N, 8, 8)
    obs_box: F64 = field(default_factory=_rows(4))  # (N, 4) last matched detection box, xyxy px
    gx: F64 = field(default_factory=_rows(4))  # (N, 4) ground [x, y, vx, vy] m, m/s
    gcov: F64 = field(default_factory=_rows(4, 4))  # (N, 4, 4)
    # (N,) the ground state holds a position (initialised and not expired)
    g_valid: BoolArray = field(default_factory=_rows(dtype=np.bool_))
    g_last_s: F64 = field(default_factory=_rows())  # (N,) stamp of the last ground fix fused
    history: list[GroundHistory] = field(default_factory=list)  # (N,) ground-plane histories

    def __len__(self) -> int:
        return len(self.ids)

    def keep(self, mask: BoolArray) -> None:
        """Keep the rows where ``mask`` (N,) is true."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                setattr(self, f.name, [v for v, k in zip(value, mask.tolist()) if k])
            else:
                setattr(self, f.name, value[mask])

    def append(self, other: TrackStore) -> None:
        """Add ``other``'s rows after this store's."""
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            setattr(self, f.name, mine + theirs if isinstance(mine, list) else np.concatenate([mine, theirs]))


class GroundHistory:
    """Ground-plane history: rows [stamp_s, x_m, y_m] within ``keep_s`` of the newest row, oldest first.

    Amortised O(1) append; the read-only snapshot array is built once per append and shared by the
    ``Track`` snapshots until the next one.
    """

    __slots__ = ("_view", "buf", "n", "start")

    def __init__(self) -> None:
        self.buf: F64 = np.empty((32, 3))
        self.n = 0
        self.start = 0
        self._view: F64 | None = EMPTY_HISTORY

    def append(self, stamp_s: float, x: float, y: float, keep_s: float) -> None:
        if self.n == len(self.buf):
            kept = self.buf[self.start : self.n]
            if len(kept) > len(self.buf) // 2:
                self.buf = np.concatenate([kept, np.empty_like(self.buf)])
            else:
                self.buf[: len(kept)] = kept
            self.n, self.start = len(kept), 0
        self.buf[self.n] = (stamp_s, x, y)
        self.n += 1
        # Rows arrive in time order, so dropping the expired ones is a short walk from the front.
        while self.buf[self.start, 0] < stamp_s - keep_s:
            self.start += 1
        self._view = None

    def view(self) -> F64:
        if self._view is None:
            v = self.buf[self.start : self.n].copy()
            v.flags.writeable = False
            self._view = v
        return self._view


EMPTY_HISTORY: F64 = np.zeros((0, 3))
EMPTY_HISTORY.flags.writeable = False
