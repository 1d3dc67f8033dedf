"""The run manifest: one row per input with its status, timings, counts and error.

``OUT/manifest.json`` (run settings + rows) and ``OUT/manifest.parquet`` (the rows), both replaced
atomically, so a killed run leaves the manifest of what had finished.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

STATUSES = ("done", "skipped", "failed", "pending")
MANIFEST_SCHEMA = pa.schema(
    [
        ("input", pa.string()),
        ("name", pa.string()),  # folder under the run directory
        ("status", pa.string()),  # done, skipped (output already up to date), failed, pending
        ("error", pa.string()),
        ("content_hash", pa.string()),
        ("output_key", pa.string()),  # hash of content hash + config + models: what "up to date" means
        ("frames", pa.int64()),
        ("detections", pa.int64()),
        ("objects", pa.int64()),  # confirmed tracks
        ("tracked_rows", pa.int64()),
        ("skipped_frames", pa.int64()),  # decode errors, duplicate stamps, ... (counters_json has each)
        ("hash_s", pa.float64()),
        ("process_s", pa.float64()),
        ("wall_s", pa.float64()),
        ("fps", pa.float64()),
        ("detect_ms_mean", pa.float64()),
        ("track_ms_mean", pa.float64()),
        ("predict_ms_mean", pa.float64()),
        ("counters_json", pa.string()),
        ("worker", pa.string()),  # host:pid that ran it
        ("detector", pa.string()),
    ]
)
SKIP_COUNTERS = ("decode_errors", "duplicate_stamps", "stale_skipped", "no_camera_info", "time_jumps_back")


def manifest_row(result: dict[str, Any]) -> dict[str, Any]:
    stage = result.get("stage_ms_mean") or {}
    counters = result.get("counters") or {}
    row = {name: result.get(name) for name in MANIFEST_SCHEMA.names}
    row.update(
        objects=result.get("confirmed_tracks"),
        skipped_frames=sum(int(counters.get(k, 0)) for k in SKIP_COUNTERS) if counters else None,
        detect_ms_mean=stage.get("detect"),
        track_ms_mean=stage.get("track"),
        predict_ms_mean=stage.get("predict"),
        counters_json=json.dumps(counters, sort_keys=True) if counters else None,
    )
    return row


def _replace(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def write_manifest(run_dir: Path, settings: dict[str, Any], results: list[dict[str, Any]]) -> None:
    rows = [manifest_row(r) for r in sorted(results, key=lambda r: r["index"])]
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    doc = {"tool": "lepton process", "kind": "run", **settings, "counts": counts, "recordings": rows}
    _replace(run_dir / "manifest.json", lambda p: p.write_text(json.dumps(doc, indent=2) + "\n"))
    table = pa.Table.from_pylist(rows, MANIFEST_SCHEMA)
    _replace(run_dir / "manifest.parquet", lambda p: pq.write_table(table, p))


def read_manifest(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text())
    return data
