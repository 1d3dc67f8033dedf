"""Social-GAN windowing, the constant-velocity reference and ADE/FDE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lepton_perception.core.prediction import data as td
from lepton_perception.tools.common import shared_dir

ETHUCY = shared_dir() / "data" / "trajectories"


def _table(peds: dict[int, range]) -> np.ndarray:
    """Rows ``frame id x y`` with ped ``i`` walking along x at 0.5 m per frame over its frame range."""
    rows = [(10.0 * f, pid, 0.5 * f, float(pid)) for pid, frames in peds.items() for f in frames]
    return np.array(rows, dtype=np.float64)


def test_windows_need_all_frames_and_more_than_one_pedestrian() -> None:
    # Frames 0..24: ped 1 everywhere, ped 2 only in 0..19, ped 3 everywhere but frame 7.
    data = _table({1: range(25), 2: range(20), 3: [f for f in range(25) if f != 7]})
    w = td.windows_from_array(data)
    # Every window (starts 0..5) contains frame 7, so ped 3 is never complete. Start 0: peds 1 and 2
    # complete -> both kept. Starts 1..5: only ped 1 -> dropped (Social-GAN needs more than one).
    assert w.shape == (2, 20, 2)
    np.testing.assert_allclose(w[:, :, 0], np.tile(0.5 * np.arange(20), (2, 1)))
    assert len(td.windows_from_array(data, td.WindowConfig(min_peds=0))) == 2 + 5


def test_windows_are_order_independent() -> None:
    data = _table({1: range(22), 2: range(22)})
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(
        td.windows_from_array(data), td.windows_from_array(data[rng.permutation(len(data))])
    )


def test_constant_velocity_and_errors() -> None:
    obs = np.stack([np.arange(8) * 0.5, np.zeros(8)], axis=1)[None]
    pred = td.constant_velocity(obs)
    np.testing.assert_allclose(pred[0, :, 0], 3.5 + 0.5 * np.arange(1, 13))
    truth = pred + np.array([0.0, 1.0])
    assert td.ade_fde(pred, truth) == pytest.approx((1.0, 1.0))
    with pytest.raises(ValueError):
        td.ade_fde(pred, truth[:, :5])


def test_malformed_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 3\n4 5 6\n")
    with pytest.raises(ValueError, match="4 columns"):
        td.load_trajectory_file(bad)
    with pytest.raises(ValueError, match="unknown scene"):
        td.scene_files(ETHUCY, "mars", "test")


# The reference figures of ../shared/README.md (CV, last-step velocity), to 3 decimals here.
@pytest.mark.parametrize(
    ("scene", "ade", "fde", "windows"),
    [("eth", 0.995, 2.234, 181), ("hotel", 0.323, 0.617, 1053), ("zara1", 0.431, 0.960, 2253)],
)
def test_windowing_reproduces_the_cv_reference(scene: str, ade: float, fde: float, windows: int) -> None:
    te = td.load_windows(td.scene_files(ETHUCY, scene, "test"))
    assert len(te) == windows
    got = td.ade_fde(td.constant_velocity(te[:, :8]), te[:, 8:])
    assert got == pytest.approx((ade, fde), abs=1e-3)


def test_all_scenes_train_files_are_each_file_once() -> None:
    names = [f.name for f in td.all_scenes_files(ETHUCY, "train")]
    assert len(names) == len(set(names)) == 8
    assert "biwi_eth_train.txt" in names and "students003_train.txt" in names
