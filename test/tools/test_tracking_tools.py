"""The lepton eval tracking / eval geometry / bench tracker commands, end to end on small inputs."""

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from lepton_perception.core.evaluation import data
from lepton_perception.tools import cli, eval_tracking

KITTI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tracking" / "kitti"


@pytest.fixture
def one_sequence_kitti(tmp_path: Path) -> Path:
    """A directory laid out like the shared one, holding sequence 0000 only."""
    for sub in ("label", "calib", "detections/pointrcnn_Car", "detections/pointrcnn_Pedestrian"):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / "0000.txt").symlink_to(KITTI / sub / "0000.txt")
    return tmp_path


@pytest.fixture(scope="module")
def eval_0000(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``lepton eval tracking --json`` on sequence 0000, every tracker with its published settings."""
    root = tmp_path_factory.mktemp("kitti_0000")
    for sub in ("label", "detections/pointrcnn_Car", "detections/pointrcnn_Pedestrian"):
        (root / sub).mkdir(parents=True)
        (root / sub / "0000.txt").symlink_to(KITTI / sub / "0000.txt")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["eval", "tracking", "--kitti", str(root), "--no-mot", "--json"]) == 0
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def test_eval_tracking_json(eval_0000: dict[str, Any]) -> None:
    out = eval_0000
    assert out["kitti_sequences"] == ["0000"] and out["kitti_images"] == 154
    assert set(out["trackers"]) == {"lepton", "sort", "bytetrack", "ocsort", "botsort", "cbiou"}
    for r in out["trackers"].values():
        assert r["fps"] > 0
        for cls in ("car", "pedestrian"):
            assert set(r[cls]) == {"HOTA", "MOTA", "IDF1", "IDSW"}
            assert 0.0 <= r[cls]["HOTA"] <= 100.0
        assert r["car"]["HOTA"] > 40.0
    settings = out["peer_settings"]
    assert settings["profile"] == "published" and settings["min_score"] == 0.1
    assert settings["peers"]["ocsort"]["settings"]["inertia"] == 0.2
    # The README check only compares runs over the README's 10 sequences (figures in the docs).
    assert out["reproduction"] == []
    # Metric regression on sequence 0000 (deterministic): lepton Car HOTA/IDF1 73.29/80.00 measured
    # without consecutive confirmation, 74.44/81.33 with it throughout (30 false positives instead of 39;
    # "auto" turns it on once the tracks show a consistent detector), 73.43/80.17 without
    # confirm_first_image.
    ours = out["trackers"]["lepton"]["car"]
    assert ours["HOTA"] >= 73.0 and ours["IDF1"] >= 79.5
    # The peers with their published settings (deterministic): Car HOTA / IDF1 measured on 0000.
    peers_car = {n: (r["car"]["HOTA"], r["car"]["IDF1"]) for n, r in out["trackers"].items() if n != "lepton"}
    expected = {"ocsort": 76.23, "cbiou": 75.02, "botsort": 69.27, "sort": 66.72, "bytetrack": 63.50}
    for name, hota in expected.items():
        assert peers_car[name][0] == pytest.approx(hota, abs=0.05), name


@pytest.mark.xfail(
    strict=True,
    reason="issue 12: on 0000 alone (154 images, a few cars) OC-SORT's Car HOTA 76.23 and C-BIoU's IDF1 "
    "84.73 are above ours (73.29 / 80.00); `--detail`: OC-SORT's lead is detection precision (19 false "
    "positives vs our 39 at about equal AssA 75.3 / 74.3), C-BIoU's is 0 vs our 2 switches; over the 10 "
    "sequences ours leads both (test_ours_above_every_published_peer_per_cell)",
)
def test_ours_above_every_published_peer_on_0000(eval_0000: dict[str, Any]) -> None:
    ours = eval_0000["trackers"]["lepton"]["car"]
    for peer, r in eval_0000["trackers"].items():
        if peer != "lepton":
            assert ours["HOTA"] > r["car"]["HOTA"], peer
            assert ours["IDF1"] > r["car"]["IDF1"], peer


# The best peer per cell with its authors' published settings, as `lepton eval tracking --detail`
# measured them on the 10 shared KITTI sequences and MOT15 TUD (2026-11-24; deterministic: same
# detections, same harness; the KITTI figures reproduce ../shared/README.md within 0.3 HOTA, checked
# by every full run's `reproduction`). Running the peers takes minutes, ours seconds.
BEST_PEER = {
    "car": {"HOTA": ("cbiou", 71.21), "IDF1": ("botsort", 84.36)},
    "pedestrian": {"HOTA": ("ocsort", 38.36), "IDF1": ("ocsort", 61.05)},
    "mot15_pedestrian": {"HOTA": ("botsort", 54.34), "IDF1": ("cbiou", 78.21)},
}


@pytest.fixture(scope="module")
def ours_all() -> dict[str, Any]:
    """Ours with the defaults over every shared KITTI sequence and MOT15 TUD (~10 s)."""
    result = eval_tracking.evaluate(KITTI, KITTI.parents[0] / "mot15", ["lepton"])
    ours: dict[str, Any] = result["trackers"]["lepton"]
    return ours


def test_ours_above_every_published_peer_per_cell(ours_all: dict[str, Any]) -> None:
    # Issue 12's acceptance: same detections, every KITTI sequence and MOT15 TUD, ours above every peer
    # on HOTA and IDF1 per class (measured 71.83 / 85.48, 39.96 / 61.11, 55.01 / 79.55).
    for cell, metrics in BEST_PEER.items():
        for metric, (peer, figure) in metrics.items():
            assert ours_all[cell][metric] > figure, (cell, metric, peer, ours_all[cell][metric])


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


def test_eval_tracking_detail(one_sequence_kitti: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["eval", "tracking", "--kitti", str(one_sequence_kitti), "--no-mot", "--trackers", "lepton"]
    assert cli.main([*args, "--detail", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for cls in ("car", "pedestrian"):
        head, d = out["trackers"]["lepton"][cls], out["detail"]["lepton"][cls]
        assert set(head) == {"HOTA", "MOTA", "IDF1", "IDSW"}  # the headline keys are unchanged
        assert d["IDP"] > 0 and d["IDR"] > 0
        assert head["IDF1"] == pytest.approx(2 * d["IDP"] * d["IDR"] / (d["IDP"] + d["IDR"]))
        assert d["FP"] >= 0 and d["FN"] >= 0 and d["FP"] == int(d["FP"])
    assert cli.main([*args, "--detail"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["lepton", "car"] for line in table)


def test_tracker_param_overrides_our_config(
    one_sequence_kitti: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = eval_tracking.tracker_config(["confirm_first_image=false", "min_hits=4", "high_score=0.6"])
    assert (cfg.confirm_first_image, cfg.min_hits, cfg.high_score) == (False, 4, 0.6)
    assert eval_tracking.tracker_config(["fuse_score=all"]).fuse_score == "all"
    for bad in ("nope=1", "min_hits", "confirm_first_image=maybe", "fuse_score=some", "min_hits=2.5"):
        with pytest.raises(ValueError):
            eval_tracking.tracker_config([bad])
    args = [
        "eval",
        "tracking",
        "--kitti",
        str(one_sequence_kitti),
        "--no-mot",
        "--trackers",
        "lepton",
        "--json",
    ]
    runs = []
    for extra in ([], ["--tracker-param", "min_hits=1"]):
        assert cli.main([*args, *extra]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert runs[1]["tracker_config"]["min_hits"] == 1 and "tracker_config" not in runs[0]
    # The override reaches the tracker: confirming on the first match changes the figures.
    assert runs[1]["trackers"]["lepton"]["car"] != runs[0]["trackers"]["lepton"]["car"]


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


def test_eval_tracking_names_a_missing_detections_file(
    one_sequence_kitti: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (one_sequence_kitti / "detections" / "pointrcnn_Pedestrian" / "0000.txt").unlink()
    argv = ["eval", "tracking", "--kitti", str(one_sequence_kitti), "--no-mot", "--trackers", "lepton"]
    assert cli.main(argv) == 2
    (error,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "pointrcnn_Pedestrian/0000.txt: no pedestrian detections for sequence 0000" in error


def test_eval_scores_json_and_table(one_sequence_kitti: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", "scores", "--kitti", str(one_sequence_kitti), "--no-mot", "--edges", "0.3,0.9,1.0"]
    assert cli.main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["edges"] == [0.3, 0.9, 1.0] and set(result["cells"]) == {"kitti_car", "kitti_pedestrian"}
    car = result["cells"]["kitti_car"]
    n_dets = sum(len(b) for b in data.load_kitti(one_sequence_kitti, "0000", "car").boxes)
    assert sum(b["n"] for b in car["detections"]) == n_dets  # every detection is >= 0.3 here
    assert 0 < sum(b["n"] for b in car["reported"]) < n_dets
    for band in car["detections"] + car["reported"]:
        assert band["true"] + band["ignored"] <= band["n"]
    assert cli.main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["cell", "band", "detections"] and len(table) == 1 + 2 * 2


def test_eval_scores_refuses_bad_edges(one_sequence_kitti: Path, caplog: pytest.LogCaptureFixture) -> None:
    argv = ["eval", "scores", "--kitti", str(one_sequence_kitti), "--no-mot", "--edges", "0.9,0.3"]
    assert cli.main(argv) == 2
    assert "ascending" in caplog.text
