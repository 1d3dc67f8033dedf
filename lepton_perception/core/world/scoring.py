"""World-frame scores of a fused object list against a scene's agents (docs/world.md, issue protocol).

Per frame, truth = detectable agents (CAR, PEDESTRIAN, CYCLIST) within ``range_m`` of the ego; the
published objects are matched to them by Hungarian assignment on ground distance, gated at ``gate_m``
(nuScenes' 2 m centre distance). Over the matched pairs: parked (truth speed < 0.2 m/s) and moving
(> 1 m/s) kinematics, ``is_stationary`` precision/recall (positive = stationary, over parked and moving
pairs), CLEAR MOT id switches (a truth matched to another object id than at its previous match), and
the duplicates rate (share of truth pairs with two or more published objects within ``gate_m``: the
matched one and one not matched to any other truth).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

F64 = npt.NDArray[np.float64]

PARKED_MPS = 0.2
MOVING_MPS = 1.0


@dataclass(frozen=True)
class Published:
    """Published objects of one frame in the fixed frame: (K,) ids, (K, 2) positions, velocities."""

    ids: npt.NDArray[np.int64]
    xy_m: F64
    v_mps: F64
    stationary: npt.NDArray[np.bool_]


@dataclass
class WorldScore:
    range_m: float = 40.0
    gate_m: float = 2.0
    truth_pairs: int = 0
    matched_pairs: int = 0
    duplicates: int = 0
    id_switches: int = 0
    parked_speed: list[float] = field(default_factory=list)
    parked_flag: list[bool] = field(default_factory=list)
    moving_flag: list[bool] = field(default_factory=list)
    moving_speed_err: list[float] = field(default_factory=list)
    moving_pos_err: list[float] = field(default_factory=list)
    moving_heading_err: list[float] = field(default_factory=list)
    _last_id: dict[int, int] = field(default_factory=dict)

    def add_frame(
        self, ego_xy: F64, truth_ids: npt.NDArray[np.int64], truth_xy: F64, truth_v: F64, pub: Published
    ) -> dict[int, int]:
        """Score one frame; returns {truth track id: matched object id}."""
        near = np.hypot(*(truth_xy - ego_xy).T) <= self.range_m if len(truth_xy) else np.zeros(0, bool)
        tid, txy, tv = truth_ids[near], truth_xy[near], truth_v[near]
        self.truth_pairs += len(tid)
        dist = (
            np.linalg.norm(txy[:, None] - pub.xy_m[None], axis=2) if len(pub.ids) else np.zeros((len(tid), 0))
        )
        rows, cols = _assign(dist, self.gate_m)
        matched_objs = set(cols.tolist())
        for r in range(len(tid)):
            near_objs = np.flatnonzero(dist[r] <= self.gate_m)
            spare = [c for c in near_objs.tolist() if c not in matched_objs]
            self.duplicates += int(r in set(rows.tolist()) and len(spare) > 0)
        out: dict[int, int] = {}
        for r, c in zip(rows.tolist(), cols.tolist()):
            g, oid = int(tid[r]), int(pub.ids[c])
            self.id_switches += int(g in self._last_id and self._last_id[g] != oid)
            self._last_id[g] = oid
            out[g] = oid
            self._kinematics(txy[r], tv[r], pub.xy_m[c], pub.v_mps[c], bool(pub.stationary[c]))
        self.matched_pairs += len(rows)
        return out

    def _kinematics(self, txy: F64, tv: F64, xy: F64, v: F64, stationary: bool) -> None:
        true_speed, speed = float(np.hypot(*tv)), float(np.hypot(*v))
        if true_speed < PARKED_MPS:
            self.parked_speed.append(speed)
            self.parked_flag.append(stationary)
        elif true_speed > MOVING_MPS:
            self.moving_flag.append(stationary)
            self.moving_speed_err.append(abs(speed - true_speed))
            self.moving_pos_err.append(float(np.hypot(*(xy - txy))))
            diff = math.atan2(v[1], v[0]) - math.atan2(tv[1], tv[0])
            self.moving_heading_err.append(abs(math.degrees((diff + math.pi) % (2 * math.pi) - math.pi)))

    def summary(self) -> dict[str, Any]:
        """The issue's keys, in its order."""
        tp = sum(self.parked_flag)
        fp = sum(self.moving_flag)
        return {
            "parked": {
                "count": len(self.parked_speed),
                "speed_mps_median": _median(self.parked_speed),
                "stationary_precision": _ratio(tp, tp + fp),
                "stationary_recall": _ratio(tp, len(self.parked_flag)),
            },
            "moving": {
                "count": len(self.moving_speed_err),
                "speed_error_mps_median": _median(self.moving_speed_err),
                "position_error_m_median": _median(self.moving_pos_err),
                "heading_error_deg_median": _median(self.moving_heading_err),
            },
            "id_switches": self.id_switches,
            "duplicates_rate": _ratio(self.duplicates, self.truth_pairs),
        }


def _assign(dist: F64, gate: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    if dist.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cost = np.where(dist <= gate, dist, 1e6)
    r, c = linear_sum_assignment(cost)
    ok = cost[r, c] <= gate
    return r[ok].astype(np.int64), c[ok].astype(np.int64)


def _median(v: list[float]) -> float | None:
    return round(float(np.median(v)), 4) if v else None


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None
