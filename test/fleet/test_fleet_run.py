"""Fleet runs over short real recordings: Ray (2 CPUs, started here) gives the serial run's outputs;
a corrupt input fails alone; a rerun skips everything; a changed parameter redoes everything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import pyarrow.parquet as pq
import pytest

from lepton_perception.ros.bag import read_bag
from lepton_perception.tools.cli import main
from test.fleet.recordings import VIDEO_REL, read_frames, tree_bytes, write_bag


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> dict[str, Path]:
    """Two bags, one video (4 frames each, 384x288, real PETS frames) and one corrupt bag."""
    d = tmp_path_factory.mktemp("recs")
    video = shared / VIDEO_REL
    recs = {
        "a": write_bag(d / "a", read_frames(video, 0, 4)),
        "b": write_bag(d / "b", read_frames(video, 100, 4), start_ns=1_700_000_100_000_000_000),
    }
    frames = read_frames(video, 200, 4)
    writer = cv2.VideoWriter(str(d / "c.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 7.0, frames[0].shape[1::-1])
    for f in frames:
        writer.write(f)
    writer.release()
    recs["c"] = d / "c.avi"
    bad = d / "bad"
    bad.mkdir()
    for f in recs["a"].iterdir():
        data = f.read_bytes()
        (bad / f.name).write_bytes(data[: len(data) // 2] if f.suffix == ".mcap" else data)
    recs["bad"] = bad
    return recs


def _inputs(recs: dict[str, Path], tmp_path: Path) -> list[str]:
    """A glob, a plain path and an @list file: every way of naming inputs."""
    lst = tmp_path / "list.txt"
    lst.write_text(f"# recordings\n{recs['c']}\n{recs['bad']}\n")
    return [str(recs["a"].parent / "[ab]"), f"@{lst}"]


def _run(inputs: list[str], out: Path, *extra: str) -> dict[str, Any]:
    code = main(["process", *inputs, "--out-dir", str(out), "--no-progress", "--json", *extra])
    manifest = json.loads((out / "manifest.json").read_text())
    assert code == (1 if manifest["counts"]["failed"] else 0)
    return {Path(r["input"]).name: r for r in manifest["recordings"]}


def _bag_messages(bag: Path) -> list[tuple[str, int, Any]]:
    """Deserialised (CDR alignment padding is not initialised by the serialiser, so raw bytes differ)."""
    return [(m.topic, m.t_ns, m.msg) for m in read_bag(bag)]


def _outputs(out: Path, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    result = {}
    for name, row in rows.items():
        if row["status"] == "failed":
            continue
        folder = out / row["name"]
        result[name] = (
            pq.read_table(folder / "tracked_objects.parquet"),
            pq.read_table(folder / "predicted_paths.parquet"),
            _bag_messages(folder / "bag"),
        )
    return result


@pytest.fixture(scope="module")
def serial_run(
    recordings: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[str]]:
    tmp = tmp_path_factory.mktemp("serial")
    inputs = _inputs(recordings, tmp)
    before = {k: tree_bytes(p) for k, p in recordings.items()}
    rows = _run(inputs, tmp / "out", "--jobs", "1", "--threads", "1")
    assert {k: v["status"] for k, v in rows.items()} == {
        "a": "done",
        "b": "done",
        "c.avi": "done",
        "bad": "failed",
    }
    assert rows["bad"]["error"].startswith(f"cannot read bag {recordings['bad']}: ")
    assert {k: tree_bytes(p) for k, p in recordings.items()} == before  # inputs untouched
    return tmp / "out", inputs


def test_serial_outputs_and_manifest(serial_run: tuple[Path, list[str]]) -> None:
    out, _ = serial_run
    rows = {Path(r["input"]).name: r for r in pq.read_table(out / "manifest.parquet").to_pylist()}
    assert sum(rows[name]["tracked_rows"] for name in ("a", "b", "c.avi")) > 0
    for name in ("a", "b", "c.avi"):
        row = rows[name]
        assert row["frames"] == 4 and row["status"] == "done" and row["error"] is None
        tracked = pq.read_table(out / row["name"] / "tracked_objects.parquet").to_pandas()
        assert len(tracked) == row["tracked_rows"]
        if tracked.empty:
            continue
        assert tracked["stamp_ns"].dtype == "int64"
        assert set(tracked["frame_id"]) == {"base_link"}
        assert set(tracked["class_name"]) <= {"person", "car", "bicycle", "motorcycle", "bus", "truck"}
        assert tracked.groupby(["frame_index", "uuid"]).size().max() == 1  # one row per object per frame
        assert (tracked[["var_x_m2", "var_y_m2", "var_vx_m2ps2", "var_vy_m2ps2"]] > 0).all().all()
        paths = pq.read_table(out / row["name"] / "predicted_paths.parquet").to_pandas()
        assert list(paths["uuid"]) == list(tracked["uuid"])
        first = paths["paths"].iloc[0][0]
        assert len(first["t_ns"]) == len(first["x_m"]) > 0 and first["t_ns"][0] > paths["stamp_ns"].iloc[0]
    assert rows["bad"]["status"] == "failed" and rows["bad"]["frames"] is None


def test_ray_run_matches_serial(serial_run: tuple[Path, list[str]], tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    out_serial, inputs = serial_run
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = _run(inputs, tmp_path / "ray", "--ray", "--threads", "1")
    finally:
        ray.shutdown()
    assert {k: v["status"] for k, v in rows.items()} == {
        "a": "done",
        "b": "done",
        "c.avi": "done",
        "bad": "failed",
    }
    serial_rows = {
        Path(r["input"]).name: r for r in json.loads((out_serial / "manifest.json").read_text())["recordings"]
    }
    ours, theirs = _outputs(tmp_path / "ray", rows), _outputs(out_serial, serial_rows)
    assert ours.keys() == theirs.keys() == {"a", "b", "c.avi"}
    for name in ours:
        assert ours[name][0].equals(theirs[name][0]), name
        assert ours[name][1].equals(theirs[name][1]), name
        assert ours[name][2] == theirs[name][2], name  # every message, every field
    assert rows["bad"]["error"] == serial_rows["bad"]["error"]


def test_local_pool_matches_serial(serial_run: tuple[Path, list[str]], tmp_path: Path) -> None:
    """The default executor: 2 forked workers of 1 thread each."""
    out_serial, inputs = serial_run
    rows = _run(inputs, tmp_path / "pool", "--jobs", "2", "--threads", "1")
    serial_rows = {
        Path(r["input"]).name: r for r in json.loads((out_serial / "manifest.json").read_text())["recordings"]
    }
    ours, theirs = _outputs(tmp_path / "pool", rows), _outputs(out_serial, serial_rows)
    assert ours.keys() == theirs.keys() == {"a", "b", "c.avi"}
    for name in ours:
        assert ours[name][0].equals(theirs[name][0]) and ours[name][1].equals(theirs[name][1]), name
        assert ours[name][2] == theirs[name][2], name
    assert len({r["worker"] for r in rows.values()}) == 2  # really two processes
    assert json.loads((tmp_path / "pool" / "manifest.json").read_text())["executor"] == "local x2"


def test_rerun_skips_and_changed_parameter_redoes(serial_run: tuple[Path, list[str]], tmp_path: Path) -> None:
    out, inputs = serial_run
    before = {r: (out / r / "tracked_objects.parquet").read_bytes() for r in _names(out)}
    rows = _run(inputs, out, "--jobs", "1", "--threads", "1")
    assert {k: v["status"] for k, v in rows.items()} == {
        "a": "skipped",
        "b": "skipped",
        "c.avi": "skipped",
        "bad": "failed",
    }
    assert {r: (out / r / "tracked_objects.parquet").read_bytes() for r in _names(out)} == before
    assert rows["a"]["frames"] == 4  # a skipped row still reports the finished output's counts
    params = tmp_path / "p.yaml"
    params.write_text("/**:\n  ros__parameters:\n    tracker:\n      max_coast_s: 0.55\n")
    rows = _run(inputs, out, "--jobs", "1", "--threads", "1", "--params", str(params))
    assert {k: v["status"] for k, v in rows.items()} == {
        "a": "done",
        "b": "done",
        "c.avi": "done",
        "bad": "failed",
    }
    assert not list(out.glob(".*"))  # no staging left


def _names(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_dir())


def test_run_dir_of_the_user_is_refused(
    recordings: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = tmp_path / "mine"
    user.mkdir()
    (user / "data.csv").write_text("1,2\n")
    assert main(["process", str(recordings["a"]), "--out-dir", str(user)]) == 2
    err = capsys.readouterr().err.strip()
    want = f"--out-dir {user} is not empty and holds no lepton process run; not touching it"
    assert err == f"lepton process: error: {want}"
    assert tree_bytes(user) == {"data.csv": b"1,2\n"}
    inside = recordings["a"] / "runs"
    assert main(["process", str(recordings["a"]), "--out-dir", str(inside)]) == 2
    assert not inside.exists()


def test_interrupted_run_keeps_finished_recordings_and_resumes(tmp_path: Path, shared: Path) -> None:
    """SIGINT after the first recording: exit 130, no traceback, no staging left; the rerun skips the
    finished recording and does the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    video = shared / VIDEO_REL
    first = write_bag(tmp_path / "in" / "first", read_frames(video, 0, 3))
    write_bag(tmp_path / "in" / "second", read_frames(video, 10, 40))
    out = tmp_path / "run"
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    argv = ["process", str(tmp_path / "in" / "*"), "--out-dir", str(out), "--jobs", "1", "--no-progress"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lepton_perception.tools.cli", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(out.glob("first-*/lepton_output.json")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not list(out.glob(".*"))  # the unfinished recording's staging is gone
    statuses = {
        Path(r["input"]).name: r["status"]
        for r in json.loads((out / "manifest.json").read_text())["recordings"]
    }
    assert statuses["second"] == "pending"
    rows = _run([str(tmp_path / "in" / "*")], out, "--jobs", "1")
    assert {k: v["status"] for k, v in rows.items()} == {"first": "skipped", "second": "done"}
    assert rows["second"]["frames"] == 40 and first.is_dir()
