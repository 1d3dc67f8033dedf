"""The main job end to end on the first frames of PETS 2009 (the full video runs in scripts/demo)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from lepton_perception.ros.bag import bag_info
from lepton_perception.tools.cli import main


def test_demo_short_run_answers_every_frame(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--max-frames", "12", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 12
    assert summary["frames_answered"] == 12 and summary["frames_lost"] == 0
    assert summary["confirmed_tracks"] >= 2  # several people walk through the first second
    info = bag_info(out / "output_bag")
    assert info["topics"]["/perception/camera/annotated_image"]["count"] == 12
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (768, 576)
