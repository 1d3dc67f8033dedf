"""Loading the shared KITTI tracking and MOT15 data."""

import logging
from pathlib import Path

import numpy as np
import pytest

from lepton_perception.core.evaluation import data

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "tracking"
KITTI = SHARED / "kitti"


def test_kitti_sequences_and_lengths() -> None:
    seqs = data.kitti_sequences(KITTI)
    assert seqs == ["0000", "0002", "0003", "0004", "0005", "0007", "0009", "0011", "0017", "0020"]
    assert data.kitti_n_frames(KITTI, "0000") == 154  # KITTI tracking training 0000 has 154 images


@pytest.mark.parametrize("cls", ["car", "pedestrian"])
def test_kitti_detections_are_sigmoided_and_cleaned(cls: str) -> None:
    seq = data.load_kitti(KITTI, "0000", cls)
    raw = np.loadtxt(KITTI / "detections" / data.KITTI_CLASSES[cls][0] / "0000.txt", delimiter=",", ndmin=2)
    n_empty = int(((raw[:, 4] <= raw[:, 2]) | (raw[:, 5] <= raw[:, 3])).sum())
    assert seq.skipped == n_empty
    assert sum(len(b) for b in seq.boxes) == len(raw) - n_empty
    scores = np.concatenate(seq.scores)
    # The files are cut at probability 0.3 and store logits.
    assert scores.min() >= 0.3 - 1e-6 and scores.max() < 1.0
    first = raw[(raw[:, 0] == 0) & (raw[:, 4] > raw[:, 2])]
    np.testing.assert_allclose(seq.boxes[0], first[:, 2:6])
    np.testing.assert_allclose(seq.scores[0], 1 / (1 + np.exp(-first[:, 6])))
    assert seq.stamp_s(10) == pytest.approx(1.0)


def test_mot15_loader() -> None:
    seq = data.load_mot(SHARED / "mot15", "TUD-Campus", 25.0)
    assert seq.n_frames == 71 and seq.rate_hz == 25.0
    det = np.loadtxt(SHARED / "mot15" / "TUD-Campus" / "det" / "det.txt", delimiter=",")
    first = det[det[:, 0] == 1]
    np.testing.assert_allclose(seq.boxes[0][:, :2], first[:, 2:4])
    np.testing.assert_allclose(seq.boxes[0][:, 2:], first[:, 2:4] + first[:, 4:6])


def _seq(root: Path, name: str, seqinfo: str | None = None, gt: bool = True) -> None:
    for sub in ("det", "gt") if gt else ("det",):
        (root / name / sub).mkdir(parents=True)
        (root / name / sub / f"{sub}.txt").write_text("1,-1,10,10,20,40,0.9,-1,-1,-1\n")
    if seqinfo is not None:
        (root / name / "seqinfo.ini").write_text(seqinfo)


def test_every_sequence_with_its_rate_and_unknown_rates_skipped(tmp_path, caplog) -> None:
    _seq(tmp_path, "TUD-Campus")  # MOT15's own rate
    _seq(tmp_path, "ETH-Bahnhof", "[Sequence]\nname=ETH-Bahnhof\nframeRate=14\nseqLength=1000\n")
    _seq(tmp_path, "my-drive", "[Sequence]\nframeRate=12.5\n")  # not MOT15: its seqinfo says
    _seq(tmp_path, "mystery")  # no seqinfo, not MOT15: no rate
    _seq(tmp_path, "no-gt", gt=False)  # nothing to score against
    with caplog.at_level(logging.WARNING):
        found = data.mot_sequences(tmp_path)
    assert found == {"ETH-Bahnhof": 14.0, "TUD-Campus": 25.0, "my-drive": 12.5}
    assert "mystery: no frame rate" in caplog.text


@pytest.mark.parametrize("name", ["TUD-Campus", "TUD-Stadtmitte"])
def test_the_shared_sequences_are_found_at_25_hz(name: str) -> None:
    assert data.mot_sequences(SHARED / "mot15")[name] == 25.0
