"""Ego poses: ``base_link`` in the fixed frame, buffered by stamp and interpolated at image stamps.

The road is taken as the plane z = 0 of ``base_link`` (``core/camera.py``), so the pose that matters
for ground positions is SE(2): x, y and yaw of ``base_link`` in the fixed frame. Height, roll and
pitch of an odometry message are not used (a pitched road is outside the flat-road model anyway).
Interpolation is linear in position and along the shortest arc in yaw; a stamp a little outside the
buffer is extrapolated with the newest (oldest) segment's velocity up to ``max_extrapolation_s``; farther
out, or with fewer than one pose, the answer is ``None``: "no pose", never a guess.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lepton_perception.core.schema import param

F64 = npt.NDArray[np.float64]


def wrap_angle(a: float) -> float:
    """Angle in radians wrapped to [-pi, pi)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


@dataclass(frozen=True)
class EgoPose:
    """Pose of ``base_link`` in the fixed frame at one stamp: metres and radians (yaw about z, CCW)."""

    x_m: float
    y_m: float
    yaw_rad: float

    def rotation(self) -> F64:
        """(2, 2) rotation taking ``base_link`` vectors into the fixed frame."""
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        return np.array([[c, -s], [s, c]])

    def to_fixed(self, xy_m: F64) -> F64:
        """(N, 2) ``base_link`` points -> (N, 2) fixed-frame points."""
        out: F64 = np.asarray(xy_m, dtype=np.float64) @ self.rotation().T + (self.x_m, self.y_m)
        return out

    def to_base(self, xy_m: F64) -> F64:
        """(N, 2) fixed-frame points -> (N, 2) ``base_link`` points."""
        out: F64 = (np.asarray(xy_m, dtype=np.float64) - (self.x_m, self.y_m)) @ self.rotation()
        return out


@dataclass(frozen=True)
class PoseBufferConfig:
    max_extrapolation_s: float = param(
        0.2,
        "a stamp this far outside the buffered poses is extrapolated; farther: no pose",
        unit="s",
        lo=0.0,
        hi=2.0,
    )
    max_gap_s: float = param(
        0.5,
        "two poses farther apart than this are not interpolated between (odometry dropout)",
        unit="s",
        lo=0.01,
        hi=10.0,
    )
    history_s: float = param(
        10.0, "poses older than this (behind the newest) are dropped", unit="s", lo=0.5, hi=600.0
    )

    def __post_init__(self) -> None:
        if self.max_extrapolation_s < 0 or self.max_gap_s <= 0 or self.history_s <= 0:
            raise ValueError(f"invalid pose buffer config {self}")


class EgoPoseBuffer:
    """Timestamped ego poses, oldest first; ``at(stamp_s)`` interpolates or answers ``None``."""

    def __init__(self, config: PoseBufferConfig | None = None) -> None:
        self.config = config or PoseBufferConfig()
        self._stamps: list[float] = []
        self._poses: list[EgoPose] = []
        self.rejected = 0  # non-finite or out-of-order poses, counted and dropped

    def __len__(self) -> int:
        return len(self._stamps)

    def add(self, stamp_s: float, pose: EgoPose) -> bool:
        """Buffer one pose; out-of-order or non-finite poses are counted in ``rejected``, not kept."""
        vals = (stamp_s, pose.x_m, pose.y_m, pose.yaw_rad)
        if not all(math.isfinite(v) for v in vals) or (self._stamps and stamp_s <= self._stamps[-1]):
            self.rejected += 1
            return False
        self._stamps.append(stamp_s)
        self._poses.append(pose)
        cut = bisect.bisect_left(self._stamps, stamp_s - self.config.history_s)
        if cut:
            del self._stamps[:cut], self._poses[:cut]
        return True

    def newest_s(self) -> float | None:
        """Stamp of the newest buffered pose (None: empty)."""
        return self._stamps[-1] if self._stamps else None

    def at(self, stamp_s: float) -> EgoPose | None:
        """The pose at ``stamp_s``, or ``None`` when the buffer cannot say (see the module doc)."""
        seg = self._segment(stamp_s)
        if seg is None:
            return None
        a, b = seg
        return self._poses[a] if a == b else self._between(a, b, stamp_s)

    def _segment(self, stamp_s: float) -> tuple[int, int] | None:
        """The two poses to interpolate (or extrapolate) through, ``(i, i)`` for one pose, or None."""
        ts, n, cfg = self._stamps, len(self._stamps), self.config
        if n == 0:
            return None
        i = bisect.bisect_right(ts, stamp_s)  # ts[i - 1] <= stamp_s < ts[i]
        if 0 < i < n:
            a, b = i - 1, i
        else:
            edge = 0 if i == 0 else n - 1
            if abs(stamp_s - ts[edge]) > cfg.max_extrapolation_s:
                return None
            if n == 1 or stamp_s == ts[edge]:
                return edge, edge
            a, b = (0, 1) if i == 0 else (n - 2, n - 1)
        return (a, b) if ts[b] - ts[a] <= cfg.max_gap_s else None

    def _between(self, a: int, b: int, stamp_s: float) -> EgoPose:
        """Linear position and shortest-arc yaw through poses ``a`` and ``b`` (extrapolates outside)."""
        pa, pb = self._poses[a], self._poses[b]
        f = (stamp_s - self._stamps[a]) / (self._stamps[b] - self._stamps[a])
        dyaw = wrap_angle(pb.yaw_rad - pa.yaw_rad)
        return EgoPose(
            pa.x_m + f * (pb.x_m - pa.x_m),
            pa.y_m + f * (pb.y_m - pa.y_m),
            wrap_angle(pa.yaw_rad + f * dyaw),
        )
