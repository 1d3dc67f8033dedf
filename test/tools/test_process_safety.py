"""``lepton process`` never destroys data: one test per class of bad input or output (issue 10).

Each asserts the exact one-line message, exit code 2, no traceback, and that the user's files are
byte-identical afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_typestore

from lepton_perception.fleet.safety import MARKER
from lepton_perception.tools.cli import main
from test.fleet.recordings import VIDEO_REL, read_frames, tree_bytes, write_bag

REPO = Path(__file__).resolve().parents[2]
NEITHER = "neither a ROS 2 bag directory nor a video OpenCV can open"


@pytest.fixture(scope="module")
def small_bag(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    """3 real frames at 384x288."""
    return write_bag(tmp_path_factory.mktemp("in") / "bag", read_frames(shared / VIDEO_REL, 0, 3))


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main(["process", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("lepton process:")]
    assert len(lines) == 1, err
    return lines[0]


def test_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    msg = _error(capsys, [str(missing), "--out", str(tmp_path / "o")])
    assert msg == f"lepton process: error: input {missing} does not exist"
    assert not (tmp_path / "o").exists()


def test_directory_that_is_not_a_bag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "photos"
    d.mkdir()
    (d / "a.jpg").write_bytes(b"\xff\xd8 not really")
    before = tree_bytes(d)
    msg = _error(capsys, [str(d), "--out", str(tmp_path / "o")])
    assert msg == f"lepton process: error: input {d} is a directory but not a ROS 2 bag (no metadata.yaml)"
    assert tree_bytes(d) == before


def test_file_that_is_neither_bag_nor_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("not a recording\n")
    msg = _error(capsys, [str(f), "--out", str(tmp_path / "o")])
    assert msg == f"lepton process: error: cannot read {f}: {NEITHER}"
    assert f.read_text() == "not a recording\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_corrupt_bag(tmp_path: Path, small_bag: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in small_bag.iterdir():
        data = f.read_bytes()
        (bad / f.name).write_bytes(data[: len(data) // 3] if f.suffix == ".mcap" else data)
    before = tree_bytes(bad)
    msg = _error(capsys, [str(bad), "--out", str(tmp_path / "o")])
    assert msg.startswith(f"lepton process: error: cannot read bag {bad}: ")
    assert tree_bytes(bad) == before
    assert not (tmp_path / "o").exists()
    assert not list(tmp_path.glob(".o.*"))  # staging removed


def test_empty_bag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    store = get_typestore(Stores.ROS2_JAZZY)
    with Writer(empty, version=9) as w:
        w.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=store)
    before = tree_bytes(empty)
    msg = _error(capsys, [str(empty), "--out", str(tmp_path / "o")])
    assert msg == f"lepton process: error: bag {empty} is empty (no messages)"
    assert tree_bytes(empty) == before


def test_no_image_topic_lists_expected_and_present(
    tmp_path: Path, small_bag: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    msg = _error(capsys, [str(small_bag), "--out", str(tmp_path / "o"), "--params", str(_cams(tmp_path))])
    assert msg == (
        f"lepton process: error: no frames found in {small_bag}: expected image topic(s) "
        "/camera/image_raw/compressed; "
        "topics present: /camera/camera_info (sensor_msgs/msg/CameraInfo), "
        "/camera/image_raw (sensor_msgs/msg/Image)"
    )


def _cams(tmp_path: Path) -> Path:
    p = tmp_path / "compressed.yaml"
    p.write_text("/**:\n  ros__parameters:\n    io:\n      image_transport: compressed\n")
    return p


def test_out_equal_to_or_inside_input_is_refused(
    tmp_path: Path, small_bag: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_bytes(small_bag)
    msg = _error(capsys, [str(small_bag), "--out", str(small_bag), "--overwrite"])
    assert msg == f"lepton process: error: --out {small_bag} is the input {small_bag}; choose another path"
    inner = small_bag / "out"
    msg = _error(capsys, [str(small_bag), "--out", str(inner)])
    assert msg == f"lepton process: error: --out {inner} is inside the input {small_bag}; choose another path"
    msg = _error(capsys, [str(small_bag), "--out", str(small_bag.parent), "--overwrite"])
    parent = small_bag.parent
    assert msg == f"lepton process: error: --out {parent} contains the input {small_bag}; choose another path"
    assert tree_bytes(small_bag) == before


def test_existing_out_that_is_not_ours_is_never_touched(
    tmp_path: Path, small_bag: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = tmp_path / "thesis"
    user.mkdir()
    (user / "chapter1.tex").write_text("years of work\n")
    user_file = tmp_path / "notes.md"
    user_file.write_text("mine\n")
    for target in (user, user_file):
        before = tree_bytes(target)
        for extra in ([], ["--overwrite"]):
            msg = _error(capsys, [str(small_bag), "--out", str(target), *extra])
            assert msg == (
                f"lepton process: error: --out {target} exists and is not a previous lepton process output; "
                "not touching it"
            )
            assert tree_bytes(target) == before


def test_own_output_replaced_only_with_overwrite(
    tmp_path: Path, small_bag: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert main(["process", str(small_bag), "--out", str(out), "--json"]) == 0
    assert (out / MARKER).is_file() and (out / "o.mcap").is_file() and (out / "metadata.yaml").is_file()
    first = tree_bytes(out)
    msg = _error(capsys, [str(small_bag), "--out", str(out)])
    assert msg == (
        f"lepton process: error: --out {out} exists (a previous lepton process output); "
        "pass --overwrite to replace it"
    )
    assert tree_bytes(out) == first
    assert main(["process", str(small_bag), "--out", str(out), "--overwrite", "--json"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no staging or old copy left
    assert set(tree_bytes(out)) == set(first)


def test_unwritable_out_and_video_out(
    tmp_path: Path, small_bag: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing_dir = tmp_path / "no" / "such"
    msg = _error(capsys, [str(small_bag), "--out", str(missing_dir / "o")])
    want = f"cannot write --out {missing_dir / 'o'}: directory {missing_dir} does not exist"
    assert msg == f"lepton process: error: {want}"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    msg = _error(capsys, [str(small_bag), "--out", str(a_file / "o")])
    assert msg == f"lepton process: error: cannot write --out {a_file / 'o'}: {a_file} is not a directory"
    out = tmp_path / "o"
    video = missing_dir / "v.mp4"
    msg = _error(capsys, [str(small_bag), "--out", str(out), "--video-out", str(video)])
    assert (
        msg
        == f"lepton process: error: cannot write --video-out {video}: directory {missing_dir} does not exist"
    )
    assert not out.exists()  # refused before anything was written


def test_existing_video_out_of_the_user_is_kept(
    tmp_path: Path, small_bag: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "holiday.mp4"
    video.write_bytes(b"precious")
    msg = _error(
        capsys, [str(small_bag), "--out", str(tmp_path / "o"), "--video-out", str(video), "--overwrite"]
    )
    assert msg == (
        f"lepton process: error: --video-out {video} exists and is not a previous lepton process output; "
        "not touching it"
    )
    assert video.read_bytes() == b"precious"


def test_video_out_written_and_replaced_as_our_own(tmp_path: Path, small_bag: Path) -> None:
    out, video = tmp_path / "o", tmp_path / "v.mp4"
    args = ["process", str(small_bag), "--out", str(out), "--video-out", str(video), "--json"]
    assert main(args) == 0
    assert video.stat().st_size > 1000
    assert main([*args, "--overwrite"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "v.mp4"]


def _start(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-m", "lepton_perception.tools.cli", "process", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_writing(out: Path, proc: subprocess.Popen[str], timeout_s: float = 120.0) -> None:
    """Until frames are being written into the staging bag next to ``out``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.stat().st_size > 0 for p in out.parent.glob(f".{out.name}.partial-*/*/*.mcap")):
            return
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    raise AssertionError("process never started writing")


def test_kill_and_signals_leave_no_half_written_bag(tmp_path: Path, shared: Path) -> None:
    """kill -9 keeps the previous good output; SIGINT/SIGTERM exit 130 without traceback or leftovers."""
    src = write_bag(tmp_path / "long", read_frames(shared / VIDEO_REL, 0, 60, scale=0.5))
    good = tmp_path / "good"
    assert main(["process", str(src), "--out", str(good), "--max-frames", "2", "--json"]) == 0
    good_before, src_before = tree_bytes(good), tree_bytes(src)
    cases = {
        signal.SIGKILL: (good, ["--overwrite"]),
        signal.SIGTERM: (tmp_path / "term", []),
        signal.SIGINT: (tmp_path / "int", []),
    }
    procs = {sig: _start([str(src), "--out", str(out), *extra]) for sig, (out, extra) in cases.items()}
    for sig, proc in procs.items():
        _wait_writing(cases[sig][0], proc)
        proc.send_signal(sig)
    for sig, proc in procs.items():
        _, err = proc.communicate(timeout=60)
        if sig == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
            assert tree_bytes(good) == good_before  # the previous good output, untouched
            continue
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert "lepton process: interrupted; unfinished outputs removed, finished ones kept" in err
        out = cases[sig][0]
        assert not out.exists()
        assert not list(tmp_path.glob(f".{out.name}.*"))
    assert tree_bytes(src) == src_before


def test_params_file_problems_are_the_nodes_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Checked before the input is even looked at; the same wording as the node, one line per problem."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("/**:\n  ros__parameters:\n    tracker:\n      max_coast_seconds: 1.0\n")
    capsys.readouterr()
    assert (
        main(["process", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "--params", str(bad)]) == 2
    )
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(ln.startswith("invalid parameter: ") for ln in lines)
    assert any("tracker.max_coast_seconds" in ln for ln in lines)
    assert not (tmp_path / "o").exists()
