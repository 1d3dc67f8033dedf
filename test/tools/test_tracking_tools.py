"""The lepton eval tracking / eval geometry / bench tracker commands, end to end on small inputs."""

import json
from pathlib import Path

import pytest

from lepton_perception.tools import cli

KITTI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tracking" / "kitti"


@pytest.fixture
def one_sequence_kitti(tmp_path: Path) -> Path:
    """A directory laid out like the shared one, holding sequence 0000 only."""
    for sub in ("label", "calib", "detections/pointrcnn_Car", "detections/pointrcnn_Pedestrian"):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / "0000.txt").symlink_to(KITTI / sub / "0000.txt")
    return tmp_path


def test_eval_tracking_json(one_sequence_kitti: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["eval", "tracking", "--kitti", str(one_sequence_kitti), "--no-mot", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kitti_sequences"] == ["0000"] and out["kitti_images"] == 154
    assert set(out["trackers"]) == {"lepton", "sort", "bytetrack", "ocsort"}
    for r in out["trackers"].values():
        assert r["fps"] > 0
        for cls in ("car", "pedestrian"):
            assert set(r[cls]) == {"HOTA", "MOTA", "IDF1", "IDSW"}
            assert 0.0 <= r[cls]["HOTA"] <= 100.0
        assert r["car"]["HOTA"] > 40.0
    # Metric regression on sequence 0000 (deterministic): measured lepton Car HOTA/IDF1 73.57/80.35,
    # OC-SORT 72.46/78.51, ByteTrack 62.84/73.81.
    ours = out["trackers"]["lepton"]["car"]
    assert ours["HOTA"] >= 73.0 and ours["IDF1"] >= 80.0
    for peer in ("bytetrack", "ocsort"):
        assert ours["HOTA"] > out["trackers"][peer]["car"]["HOTA"], peer
        assert ours["IDF1"] > out["trackers"][peer]["car"]["IDF1"], peer


def test_eval_tracking_table_and_unknown_tracker(
    one_sequence_kitti: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(["eval", "tracking", "--kitti", str(one_sequence_kitti), "--no-mot", "--trackers", "lepton"])
        == 0
    )
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("tracker") and table[3].startswith("lepton")
    with pytest.raises(ValueError, match="unknown trackers"):
        cli.main(["eval", "tracking", "--kitti", str(one_sequence_kitti), "--no-mot", "--trackers", "nope"])


def test_eval_geometry_json(one_sequence_kitti: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["eval", "geometry", "--kitti", str(one_sequence_kitti), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["car"]["objects"] > 50
    assert sum(b["count"] for b in out["car"]["bands"]) + out["car"]["invalid"] <= out["car"]["objects"]
    # Fused locator with sequence 0000's own intrinsics: cars within 30 m under 10 % range error and
    # mostly inside their 2-sigma ellipse (all shared sequences: docs/geometry.md).
    near = [b for b in out["car"]["bands"] if b["hi_m"] <= 30 and b["count"] > 0]
    n = sum(b["count"] for b in near)
    assert sum(b["range_rel_mae"] * b["count"] for b in near) / n < 0.10
    assert sum(b["within_2sigma"] * b["count"] for b in near) / n > 0.8


def test_bench_tracker_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "tracker", "--objects", "20", "--steps", "30", "--repeat", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 30 and out["ground"] is True and out["tracks_mean"] > 10
    assert out["step_ms_median"] == min(out["step_ms_median_all"]) and len(out["step_ms_median_all"]) == 2
    assert 0 < out["step_ms_median"] <= out["step_ms_p99"]
