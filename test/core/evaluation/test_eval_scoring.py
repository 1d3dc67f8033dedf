"""TrackEval scoring through our KITTI / MOT15 writers, with ground truth and degraded trackers."""

from pathlib import Path

import numpy as np
import pytest

from lepton_perception.core.evaluation import data, peers, scoring

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "tracking"
KITTI = SHARED / "kitti"


def kitti_gt_output(seq: str, cls: str, swap_every: int = 0) -> scoring.TrackerOutput:
    """The labels themselves as a tracker (optionally with ids re-assigned every ``swap_every``)."""
    det = data.load_kitti(KITTI, seq, cls)
    kitti_type = "Car" if cls == "car" else "Pedestrian"
    frames = [np.zeros((0, 5)) for _ in range(det.n_frames)]
    for line in (KITTI / "label" / f"{seq}.txt").read_text().splitlines():
        p = line.split()
        if p[2] == kitti_type:
            k, tid = int(p[0]), int(p[1])
            if swap_every and k // swap_every % 2:
                tid += 1000
            frames[k] = np.vstack([frames[k], [*map(float, p[6:10]), tid]])
    return scoring.TrackerOutput(det, frames, 0.0)


def test_ground_truth_scores_perfectly_and_id_changes_cost_idf1() -> None:
    res = scoring.score_kitti(
        KITTI / "label",
        {"gt": [kitti_gt_output("0000", "car")], "swapped": [kitti_gt_output("0000", "car", swap_every=20)]},
        ["car"],
    )
    gt = res["gt"]["car"]
    assert gt["HOTA"] == pytest.approx(100.0) and gt["IDF1"] == pytest.approx(100.0) and gt["IDSW"] == 0
    assert gt["MOTA"] == pytest.approx(100.0)
    sw = res["swapped"]["car"]
    assert sw["IDSW"] > 0 and sw["IDF1"] < 90.0 and sw["HOTA"] < gt["HOTA"]


def test_trackers_run_and_score_on_one_recording() -> None:
    """Both classes of sequence 0000 through each tracker together: one output per class, scored; our
    one tracker numbers its tracks across both classes, so no id is in both."""
    factories = peers.make_factories()
    rec = [data.load_kitti(KITTI, "0000", c) for c in ("car", "pedestrian")]
    outs = {name: scoring.run_recording(factories[name], rec) for name in ("lepton", "sort")}
    res = scoring.score_kitti(KITTI / "label", outs, ["car", "pedestrian"])
    for name, (car, ped) in outs.items():
        assert (car.seq.cls, ped.seq.cls) == ("car", "pedestrian") and len(car.frames) == rec[0].n_frames
        assert 40.0 < res[name]["car"]["HOTA"] < 100.0
        assert car.seconds > 0 and car.seconds == ped.seconds
    car, ped = outs["lepton"]
    car_ids, ped_ids = ({int(i) for f in o.frames for i in f[:, 4]} for o in (car, ped))
    assert car_ids and ped_ids and not car_ids & ped_ids


def test_a_recordings_classes_must_share_its_images() -> None:
    rec = [data.load_kitti(KITTI, "0000", "car"), data.load_kitti(KITTI, "0002", "pedestrian")]
    with pytest.raises(ValueError, match="share its images"):
        scoring.run_recording(peers.make_factories()["sort"], rec)


def test_mot15_ground_truth_scores_perfectly() -> None:
    mot = SHARED / "mot15"
    seq = data.load_mot(mot, "TUD-Campus", 25.0)
    gt = np.loadtxt(mot / "TUD-Campus" / "gt" / "gt.txt", delimiter=",")
    frames = [np.zeros((0, 5)) for _ in range(seq.n_frames)]
    for row in gt:
        k = int(row[0]) - 1
        frames[k] = np.vstack([frames[k], [row[2], row[3], row[2] + row[4], row[3] + row[5], row[1]]])
    res = scoring.score_mot(mot, {"gt": [scoring.TrackerOutput(seq, frames, 0.0)]})
    assert res["gt"]["HOTA"] == pytest.approx(100.0) and res["gt"]["IDSW"] == 0
