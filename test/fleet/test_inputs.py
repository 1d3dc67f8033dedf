"""Inputs: paths, globs and @lists expand in order without duplicates; content hashes follow bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from lepton_perception.fleet.inputs import CHUNK, SAMPLES, content_hash, expand_inputs, recording_names
from lepton_perception.fleet.safety import UserError


def _bag(path: Path, payload: bytes) -> Path:
    path.mkdir()
    (path / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
    (path / f"{path.name}.mcap").write_bytes(payload)
    return path


def test_paths_globs_and_lists(tmp_path: Path) -> None:
    a, b = _bag(tmp_path / "a", b"1"), _bag(tmp_path / "b", b"2")
    video = tmp_path / "c.avi"
    video.write_bytes(b"v")
    lst = tmp_path / "runs.txt"
    lst.write_text("# comment\nc.avi\n\nb/b.mcap  # a storage file stands for its bag\n")
    got = expand_inputs([str(tmp_path / "[ab]"), f"@{lst}", str(a)], [str(lst)])
    assert got == [a, b, video]
    with pytest.raises(UserError, match=r"^no input matches .*\*\.bag$"):
        expand_inputs([str(tmp_path / "*.bag")])
    with pytest.raises(UserError, match=r"^cannot read input list"):
        expand_inputs([f"@{tmp_path / 'missing.txt'}"])
    names = recording_names([a, video])
    assert names[0].startswith("a-") and names[1].startswith("c-") and len(set(names)) == 2


@pytest.mark.parametrize("method", ["full", "sampled"])
def test_content_hash_follows_bytes_not_names(tmp_path: Path, method: str) -> None:
    big = (bytes(range(256)) * 4096 * 20)[: 20 << 20]  # 20 MiB: the sampled hash samples it
    a = _bag(tmp_path / "a", big)
    b = _bag(tmp_path / "b", big)
    (b / "b.mcap").rename(b / "a.mcap")  # same relative names and bytes -> same hash
    assert content_hash(a, method) == content_hash(b, method)
    changed = bytearray(big)
    changed[-1] ^= 1  # the last chunk is always read
    (b / "a.mcap").write_bytes(bytes(changed))
    assert content_hash(a, method) != content_hash(b, method)
    (b / "a.mcap").write_bytes(big + b"x")
    assert content_hash(a, method) != content_hash(b, method)


def test_full_hash_sees_what_sampling_skips(tmp_path: Path) -> None:
    big = bytes(20 << 20)
    one, two = tmp_path / "one.bin", tmp_path / "two.bin"
    one.write_bytes(big)
    edited = bytearray(big)
    first_sample = (len(big) - CHUNK) // (SAMPLES + 1)
    edited[first_sample + CHUNK + 10] = 1  # just after a sampled chunk, before the next
    two.write_bytes(bytes(edited))
    assert content_hash(one, "full") != content_hash(two, "full")
    assert content_hash(one, "sampled") == content_hash(two, "sampled")  # documented blind spot


def test_fleet_package_imports_no_ros() -> None:
    """The orchestration runs where ROS is not installed (a Ray head node): no rclpy or *_msgs."""
    import subprocess
    import sys

    code = (
        "import sys, lepton_perception.fleet.run, lepton_perception.fleet.inputs, "
        "lepton_perception.fleet.safety, lepton_perception.fleet.manifest, lepton_perception.fleet.tables; "
        "bad = [m for m in sys.modules if m.startswith('rclpy') or m.endswith('_msgs')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
