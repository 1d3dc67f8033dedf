"""Per-recording Parquet tables: one row per planning object per frame (schema in docs/fleet.md).

Rows are the objects planners get (confirmed or coasting tracks with a ground position, the same set
as the ``TrackedObjects``/``PredictedObjects`` messages), positions and velocities in ``frame_id``
(the target frame), stamps in integer nanoseconds of the source image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lepton_perception.core.types import FrameResult, Track, TrackState, category_of, class_name

_LIVE = (TrackState.CONFIRMED, TrackState.COASTING)

_KEY = [
    ("recording", pa.string()),
    ("camera", pa.string()),
    ("frame_index", pa.int64()),  # 0-based index of the processed image in its camera's stream
    ("stamp_ns", pa.int64()),  # source image stamp
    ("frame_id", pa.string()),  # frame of positions and velocities (io.target_frame)
    ("image_frame_id", pa.string()),  # optical frame of the source image
    ("uuid", pa.string()),  # object id as in the messages (unique_identifier_msgs/UUID, hex)
    ("track_id", pa.int64()),
    ("class_id", pa.int32()),  # COCO class id
    ("class_name", pa.string()),
    ("category", pa.string()),  # planning category: PEDESTRIAN, CYCLIST, VEHICLE, UNKNOWN
    ("score", pa.float32()),
    ("x_m", pa.float64()),
    ("y_m", pa.float64()),
    ("vx_mps", pa.float64()),
    ("vy_mps", pa.float64()),
]
TRACKED_SCHEMA = pa.schema(
    [
        *_KEY,
        ("var_x_m2", pa.float64()),  # covariance diagonal of [x, y, vx, vy]
        ("var_y_m2", pa.float64()),
        ("var_vx_m2ps2", pa.float64()),
        ("var_vy_m2ps2", pa.float64()),
        ("state", pa.string()),  # CONFIRMED or COASTING
        ("age_s", pa.float64()),
        ("hits", pa.int32()),
        ("time_since_update_s", pa.float64()),
        ("box_x1_px", pa.float32()),
        ("box_y1_px", pa.float32()),
        ("box_x2_px", pa.float32()),
        ("box_y2_px", pa.float32()),
    ]
)
PATH_TYPE = pa.struct(
    [
        ("predictor", pa.string()),  # rnn, cv, ctrv, ...
        ("confidence", pa.float32()),
        ("t_ns", pa.list_(pa.int64())),  # absolute stamps of the waypoints (us resolution)
        ("x_m", pa.list_(pa.float64())),
        ("y_m", pa.list_(pa.float64())),
    ]
)
PREDICTED_SCHEMA = pa.schema([*_KEY, ("paths", pa.list_(PATH_TYPE))])  # most likely path first


@dataclass
class FrameIds:
    recording: str
    camera: str
    frame_index: int
    stamp_ns: int
    frame_id: str
    image_frame_id: str


def _key_row(ids: FrameIds, track: Track, uuid: str) -> dict[str, Any]:
    g = track.ground
    assert g is not None
    return {
        **ids.__dict__,
        "uuid": uuid,
        "track_id": int(track.track_id),
        "class_id": int(track.class_id),
        "class_name": class_name(track.class_id),
        "category": category_of(track.class_id).name,
        "score": float(track.score),
        "x_m": float(g.position_m[0]),
        "y_m": float(g.position_m[1]),
        "vx_mps": float(g.velocity_mps[0]),
        "vy_mps": float(g.velocity_mps[1]),
    }


@dataclass
class TableBuilder:
    """Accumulates rows frame by frame; ``write`` stores both tables."""

    tracked: list[dict[str, Any]] = field(default_factory=list)
    predicted: list[dict[str, Any]] = field(default_factory=list)

    def add(self, ids: FrameIds, result: FrameResult, uuid_of: Callable[[int], str]) -> None:
        by_track: dict[int, list[dict[str, Any]]] = {}
        for p in sorted(result.paths, key=lambda p: -p.confidence):
            by_track.setdefault(p.track_id, []).append(
                {
                    "predictor": p.predictor,
                    "confidence": float(p.confidence),
                    "t_ns": [ids.stamp_ns + round((t - result.stamp_s) * 1e6) * 1000 for t in p.times_s],
                    "x_m": [float(v) for v in p.positions_m[:, 0]],
                    "y_m": [float(v) for v in p.positions_m[:, 1]],
                }
            )
        for t in result.tracks:
            if t.state not in _LIVE or t.ground is None:
                continue
            key = _key_row(ids, t, uuid_of(t.track_id))
            cov = t.ground.covariance
            box = [float(v) for v in t.box]
            self.tracked.append(
                {
                    **key,
                    "var_x_m2": float(cov[0, 0]),
                    "var_y_m2": float(cov[1, 1]),
                    "var_vx_m2ps2": float(cov[2, 2]),
                    "var_vy_m2ps2": float(cov[3, 3]),
                    "state": t.state.name,
                    "age_s": float(t.age_s),
                    "hits": int(t.hits),
                    "time_since_update_s": float(t.time_since_update_s),
                    "box_x1_px": box[0],
                    "box_y1_px": box[1],
                    "box_x2_px": box[2],
                    "box_y2_px": box[3],
                }
            )
            self.predicted.append({**key, "paths": by_track.get(t.track_id, [])})

    def write(self, directory: Path) -> None:
        pq.write_table(
            pa.Table.from_pylist(self.tracked, TRACKED_SCHEMA), directory / "tracked_objects.parquet"
        )
        pq.write_table(
            pa.Table.from_pylist(self.predicted, PREDICTED_SCHEMA), directory / "predicted_paths.parquet"
        )
