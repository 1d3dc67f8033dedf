"""Model shapes, CV initialisation and exact rotation/translation equivariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lepton_perception.core.prediction.data import constant_velocity
from lepton_perception.core.prediction.model import TrajectoryGRU, TrajectoryModelConfig


def _random_model(seed: int = 0) -> TrajectoryGRU:
    torch.manual_seed(seed)
    model = TrajectoryGRU(TrajectoryModelConfig())
    # The last layer starts at zero (model == CV); give it weights so the network part matters.
    with torch.no_grad():
        for p in model.decoder[-1].parameters():
            p.normal_(0, 0.3)
    return model.eval()


def _walks(n: int, seed: int = 1) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    steps = rng.normal([0.4, 0.0], 0.1, (n, 7, 2))
    start = rng.uniform(-5, 5, (n, 1, 2))
    return torch.as_tensor(
        np.concatenate((start, start + np.cumsum(steps, axis=1)), axis=1), dtype=torch.float32
    )


@pytest.mark.parametrize("batch", [1, 5, 100])
def test_output_shape(batch: int) -> None:
    out = _random_model()(_walks(batch))
    assert out.shape == (batch, 12, 2)
    assert torch.isfinite(out).all()


def test_untrained_model_is_constant_velocity() -> None:
    obs = _walks(20)
    pred = TrajectoryGRU().eval()(obs).detach().numpy()
    np.testing.assert_allclose(pred, constant_velocity(obs.numpy().astype(np.float64)), atol=1e-5)


@pytest.mark.parametrize("angle_deg", [30.0, 90.0, 180.0, -135.0])
def test_rotating_the_input_rotates_the_output(angle_deg: float) -> None:
    model = _random_model()
    obs = _walks(50)
    a = math.radians(angle_deg)
    rot = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    with torch.no_grad():
        out = model(obs)
        out_rot = model(obs @ rot.T)
    torch.testing.assert_close(out_rot, out @ rot.T, atol=2e-4, rtol=0)


def test_translation_equivariance() -> None:
    model = _random_model()
    obs = _walks(10)
    shift = torch.tensor([123.0, -45.0])
    with torch.no_grad():
        torch.testing.assert_close(model(obs + shift), model(obs) + shift, atol=2e-4, rtol=0)


def test_standing_agents_stay_finite() -> None:
    obs = torch.zeros(3, 8, 2)
    out = _random_model()(obs)
    assert torch.isfinite(out).all()


def test_bad_input_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match="expected"):
        TrajectoryGRU()(torch.zeros(2, 5, 2))


def test_config_round_trip_and_unknown_keys() -> None:
    cfg = TrajectoryModelConfig(hidden_dim=32)
    assert TrajectoryModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        TrajectoryModelConfig.from_dict({**cfg.to_dict(), "layers": 3})
    with pytest.raises(ValueError):
        TrajectoryModelConfig(obs_len=1)
