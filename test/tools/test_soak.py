"""``lepton soak`` on a few hundred frames through the live node: every frame answered, RSS sampled,
the report's figures consistent; and the growth arithmetic on known samples."""

from __future__ import annotations

import json

import pytest

from lepton_perception.tools.cli import main
from lepton_perception.tools.soak import RssSample, memory_growth


def test_memory_growth_is_measured_after_warm_up() -> None:
    # 100 MB of start-up allocations during warm-up, then +1 MB per 1000 frames.
    samples = [RssSample(0, 0.0, 500.0), RssSample(500, 1.0, 600.0)]
    samples += [RssSample(f, 1.0 + f / 1000, 600.0 + (f - 1000) / 1000) for f in range(1000, 11000, 1000)]
    m = memory_growth(samples, warmup_frames=1000)
    assert m["baseline_mb"] == 600.0 and m["final_mb"] == 609.0 and m["peak_mb"] == 609.0
    assert m["growth_mb"] == 9.0 and m["peak_growth_mb"] == 9.0
    assert m["slope_mb_per_10k_frames"] == pytest.approx(10.0)
    assert memory_growth(samples, warmup_frames=20000)["growth_mb"] is None  # never warmed up


def test_soak_through_the_live_node(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["soak", "--frames", "160", "--cameras", "2", "--warmup-frames", "60", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["frames_published"] == report["frames_answered"] == 160
    assert report["frames_lost"] == 0 and report["node_alive_at_end"] is True
    assert report["passed"] is True and report["max_growth_mb"] == 20.0
    # The node (python + torch + the model) is hundreds of MB, not KB or tens of GB.
    assert 50 < report["rss_start_mb"] < 8000
    assert report["rss_start_mb"] <= report["peak_mb"] + 1
    assert report["baseline_mb"] <= report["peak_mb"] and report["final_mb"] <= report["peak_mb"]
    assert report["growth_mb"] == pytest.approx(report["final_mb"] - report["baseline_mb"], abs=0.11)
    assert abs(report["growth_mb"]) < 20.0
    assert report["rss_samples"] >= 3 and report["frames_per_s"] > 0
    frames = [int(f) for f in report["rss_mb_by_frames"]]
    assert frames == sorted(frames) and frames[0] == 0
    for processed in report["node_processed_by_camera"].values():  # the node's own count, when reported
        assert processed is None or int(processed) == 80
