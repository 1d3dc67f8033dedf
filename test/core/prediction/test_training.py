"""Training: learns what constant velocity misses, deterministic, resumable from checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lepton_perception.core.prediction import data as td
from lepton_perception.core.prediction.model import TrajectoryModelConfig
from lepton_perception.core.prediction.training import TrainConfig, evaluate, train

SMALL = TrajectoryModelConfig(embed_dim=8, hidden_dim=16, decoder_hidden_dim=32)


def _decelerating(n: int, seed: int) -> np.ndarray:
    """Walkers that brake uniformly to a stop: CV overshoots, a model can learn to brake."""
    rng = np.random.default_rng(seed)
    speed0 = rng.uniform(0.3, 0.6, n)  # m per step at the first sample
    decel = speed0 / 20.0  # stop after 20 steps
    k = np.arange(20)
    dist = speed0[:, None] * k - 0.5 * decel[:, None] * k**2
    ang = rng.uniform(-np.pi, np.pi, n)
    xy = np.stack((dist * np.cos(ang)[:, None], dist * np.sin(ang)[:, None]), axis=-1)
    return xy + rng.uniform(-10, 10, (n, 1, 2))


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_learns_braking_and_is_deterministic() -> None:
    tr, va = _decelerating(512, 0), _decelerating(128, 1)
    cfg = TrainConfig(epochs=4, batch_size=64, obs_noise_m=0.0)
    a = train(tr, va, model_config=SMALL, config=cfg)
    b = train(tr, va, model_config=SMALL, config=cfg)
    for wa, wb in zip(_weights(a.model), _weights(b.model)):
        torch.testing.assert_close(wa, wb, rtol=0, atol=0)
    cv_ade, _ = td.ade_fde(td.constant_velocity(va[:, :8]), va[:, 8:])
    ade, _ = evaluate(a.model, va)
    assert ade < 0.7 * cv_ade
    assert a.best_val_ade_m == pytest.approx(ade, abs=1e-6)


class _InterruptError(Exception):
    pass


def test_resume_from_checkpoint_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    tr, va = _decelerating(256, 2), _decelerating(64, 3)
    cfg = TrainConfig(epochs=3, batch_size=64)
    full = train(tr, va, model_config=SMALL, config=cfg)
    ckpt = tmp_path / "m.pt"

    def stop_in_epoch_2(epoch: int, row: dict[str, float]) -> None:
        if epoch == 2:
            raise _InterruptError  # before epoch 2's checkpoint is written: the file holds epoch 1

    with pytest.raises(_InterruptError):
        train(tr, va, model_config=SMALL, config=cfg, checkpoint=ckpt, on_epoch=stop_in_epoch_2)
    resumed = train(tr, va, model_config=SMALL, config=cfg, checkpoint=ckpt)
    assert resumed.epochs_run == full.epochs_run == 3
    assert [h["val_ade"] for h in resumed.history] == [h["val_ade"] for h in full.history]
    for wa, wb in zip(_weights(full.model), _weights(resumed.model)):
        torch.testing.assert_close(wa, wb, rtol=0, atol=0)
    with pytest.raises(ValueError, match="another configuration"):
        train(tr, va, model_config=SMALL, config=TrainConfig(epochs=3, batch_size=32), checkpoint=ckpt)


def test_bad_windows_are_rejected() -> None:
    with pytest.raises(ValueError, match="windows"):
        train(np.zeros((0, 20, 2)), np.zeros((4, 20, 2)))
    with pytest.raises(ValueError, match="neighbours"):
        train(np.zeros((4, 20, 2)), np.zeros((4, 20, 2)), train_neighbours=np.zeros((3, 2, 5)))
