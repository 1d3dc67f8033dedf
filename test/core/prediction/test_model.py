"""Model shapes, CV initialisation and exact rotation/translation equivariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lepton_perception.core.prediction.data import constant_velocity
from lepton_perception.core.prediction.model import TrajectoryGRU, TrajectoryModelConfig


def _random_model(seed: int = 0, neighbours: int = 0) -> TrajectoryGRU:
    torch.manual_seed(seed)
    model = TrajectoryGRU(TrajectoryModelConfig(max_neighbours=neighbours))
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


def _neighbours(n: int, k: int = 4, seed: int = 2) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    nb = np.concatenate((rng.normal(0, 2, (n, k, 2)), rng.normal(0, 0.4, (n, k, 2)), np.ones((n, k, 1))), -1)
    nb[:, -1] = 0.0  # one unused row each
    return torch.as_tensor(nb, dtype=torch.float32)


@pytest.mark.parametrize("social", [False, True])
@pytest.mark.parametrize("angle_deg", [30.0, 90.0, 180.0, -135.0])
def test_rotating_the_input_rotates_the_output(angle_deg: float, social: bool) -> None:
    model = _random_model(neighbours=4 if social else 0)
    obs = _walks(50)
    nb = _neighbours(50) if social else None
    a = math.radians(angle_deg)
    rot = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    with torch.no_grad():
        out = model(obs, nb)
        nb_rot = None
        if nb is not None:
            nb_rot = torch.cat((nb[..., 0:2] @ rot.T, nb[..., 2:4] @ rot.T, nb[..., 4:]), dim=-1)
        out_rot = model(obs @ rot.T, nb_rot)
    torch.testing.assert_close(out_rot, out @ rot.T, atol=2e-4, rtol=0)


def test_neighbours_matter_and_unused_rows_do_not() -> None:
    model = _random_model(neighbours=4)
    obs = _walks(10)
    nb = _neighbours(10)
    with torch.no_grad():
        base = model(obs, nb)
        garbage = nb.clone()
        garbage[:, -1, :4] = 100.0  # values in an unused (valid=0) row are ignored
        torch.testing.assert_close(model(obs, garbage), base)
        assert not torch.allclose(model(obs, None), base, atol=1e-3)
        # No neighbours at all == all rows unused.
        torch.testing.assert_close(model(obs, None), model(obs, nb * 0))


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
