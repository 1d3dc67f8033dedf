"""``lepton report``: figures from a real (small) run directory, and one-line refusal of anything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lepton_perception.tools.cli import main
from test.fleet.recordings import VIDEO_REL, read_frames, write_bag


def test_report_of_a_run(tmp_path: Path, shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = write_bag(tmp_path / "rec", read_frames(shared / VIDEO_REL, 0, 6))
    (tmp_path / "broken.avi").write_text("no video")
    run = tmp_path / "run"
    argv = ["process", str(bag), str(tmp_path / "broken.avi"), "--out-dir", str(run), "--jobs", "1", "--json"]
    assert main([*argv, "--no-progress"]) == 1
    manifest = json.loads((run / "manifest.json").read_text())
    done = next(r for r in manifest["recordings"] if r["status"] == "done")
    assert main(["report", str(run)]) == 0
    md = (run / "report" / "report.md").read_text()
    assert f"Recordings: 2 (1 done, 0 skipped, 1 failed, 0 pending). Frames: {done['frames']}." in md
    assert f"| {tmp_path / 'broken.avi'} | cannot read {tmp_path / 'broken.avi'}: neither" in md
    assert "| person |" in md
    assert f"| detect | {done['detect_ms_mean']:.1f} |" in md
    for png in ("objects_per_class.png", "track_lengths.png", "stage_latency.png"):
        assert (run / "report" / png).read_bytes()[:4] == b"\x89PNG"
    assert main(["report", str(run)]) == 0  # its own previous report is replaced
    capsys.readouterr()
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"lepton report: error: {tmp_path} is not a lepton process run")
