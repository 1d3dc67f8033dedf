"""A driving scene for world-frame evaluation: ego poses and agent boxes in one fixed frame.

Directory format (``../shared/data/driving/lyft_scene``): ``ego.csv`` =
``timestamp_ns,x_m,y_m,z_m,yaw_rad`` (``base_link`` in the fixed frame); ``agents.csv`` =
``timestamp_ns,track_id,label,label_probability,x_m,y_m,yaw_rad,length_m,width_m,height_m,vx_mps,vy_mps``
(box centre on the ground, yaw of the length axis, velocity over ground).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lepton_perception.core.world.ego import EgoPose, EgoPoseBuffer, PoseBufferConfig

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# Scene label -> COCO class id the simulated detector reports; other labels are neither detected nor scored.
LABEL_CLASS: dict[str, int] = {"CAR": 2, "PEDESTRIAN": 0, "CYCLIST": 1}
_AGENT_COLUMNS = ("x_m", "y_m", "yaw_rad", "length_m", "width_m", "height_m", "vx_mps", "vy_mps")


@dataclass(frozen=True)
class Agents:
    """Agent boxes of the scene, one row per (frame, agent); only detectable labels are kept."""

    frame: I64  # (M,) index into ``Scene.stamps_s``
    track_id: I64  # (M,)
    class_id: I64  # (M,) COCO class id (LABEL_CLASS)
    label: npt.NDArray[np.str_]  # (M,)
    box: F64  # (M, 6) x_m, y_m, yaw_rad, length_m, width_m, height_m (fixed frame)
    velocity_mps: F64  # (M, 2) vx, vy (fixed frame)

    def at(self, frame: int) -> npt.NDArray[np.bool_]:
        return self.frame == frame


@dataclass(frozen=True)
class Scene:
    name: str
    stamps_s: F64  # (T,) ego stamps, seconds from the first
    ego: F64  # (T, 3) x_m, y_m, yaw_rad of base_link in the fixed frame
    agents: Agents

    def pose(self, frame: int) -> EgoPose:
        return EgoPose(*(float(v) for v in self.ego[frame]))

    def pose_buffer(self) -> EgoPoseBuffer:
        """All ego poses as the odometry stream a node would have buffered."""
        buf = EgoPoseBuffer(PoseBufferConfig(history_s=600.0))
        for t, p in zip(self.stamps_s.tolist(), self.ego.tolist()):
            buf.add(t, EgoPose(*p))
        return buf


def load_scene(directory: Path) -> Scene:
    """Read ``ego.csv`` and ``agents.csv``; agents at stamps without an ego pose are an error."""
    with open(directory / "ego.csv", newline="") as f:
        ego_rows = list(csv.DictReader(f))
    if not ego_rows:
        raise ValueError(f"{directory / 'ego.csv'}: no poses")
    ego_ns = np.array([int(r["timestamp_ns"]) for r in ego_rows], dtype=np.int64)
    if np.any(np.diff(ego_ns) <= 0):
        raise ValueError(f"{directory / 'ego.csv'}: stamps not increasing")
    ego = np.array([[float(r[k]) for k in ("x_m", "y_m", "yaw_rad")] for r in ego_rows])
    index = {int(t): i for i, t in enumerate(ego_ns.tolist())}
    with open(directory / "agents.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] in LABEL_CLASS]
    missing = {r["timestamp_ns"] for r in rows if int(r["timestamp_ns"]) not in index}
    if missing:
        raise ValueError(f"{directory / 'agents.csv'}: {len(missing)} stamps without an ego pose")
    values = np.array([[float(r[k]) for k in _AGENT_COLUMNS] for r in rows]).reshape(-1, len(_AGENT_COLUMNS))
    agents = Agents(
        frame=np.array([index[int(r["timestamp_ns"])] for r in rows], dtype=np.int64),
        track_id=np.array([int(r["track_id"]) for r in rows], dtype=np.int64),
        class_id=np.array([LABEL_CLASS[r["label"]] for r in rows], dtype=np.int64),
        label=np.array([r["label"] for r in rows], dtype=np.str_),
        box=values[:, :6],
        velocity_mps=values[:, 6:],
    )
    return Scene(directory.resolve().name, (ego_ns - ego_ns[0]) / 1e9, ego, agents)
