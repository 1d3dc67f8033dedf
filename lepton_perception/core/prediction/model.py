"""GRU trajectory model: observed positions in metres -> the next ``pred_len`` positions.

The network predicts a *correction* to constant-velocity extrapolation in a heading-aligned frame:

1. displacements between the observed samples, (B, obs_len-1, 2) metres per step;
2. rotated so the last displacement points along +x (rotation normalisation: the output is exactly
   rotation-equivariant, so no rotation augmentation is needed and the world frame does not matter);
3. a small GRU encodes them, an MLP maps the final hidden state to (pred_len, 2) offsets that are
   added to the constant-velocity path (in the rotated frame), then rotated back and translated to
   the last observed position.

With its last layer initialised to zero the untrained model *is* constant velocity, so training
only ever has to learn what CV gets wrong (deceleration, turning, noisy last steps).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class TrajectoryModelConfig:
    obs_len: int = 8  # observed samples including the current one
    pred_len: int = 12  # predicted samples
    step_s: float = 0.4  # sample period the model was trained at, seconds
    embed_dim: int = 32  # per-step displacement embedding
    hidden_dim: int = 64  # GRU encoder state
    decoder_hidden_dim: int = 128  # MLP decoder width
    # Below this displacement per step (m) the last step is too noisy to define a heading; the
    # heading then comes from the whole observed displacement, and from +x if that is small too.
    min_heading_step_m: float = 0.02
    # Social context: up to this many neighbours (0 = ego-only), each (dx, dy, vx, vy, valid) at the
    # last observation, encoded in the agent's heading frame and max-pooled to neighbour_dim.
    max_neighbours: int = 0
    neighbour_radius_m: float = 6.0  # pedestrians farther than this are not neighbours
    neighbour_dim: int = 32

    def __post_init__(self) -> None:
        if self.obs_len < 2 or self.pred_len < 1:
            raise ValueError(f"need obs_len >= 2 and pred_len >= 1, got {self.obs_len}, {self.pred_len}")
        if min(self.embed_dim, self.hidden_dim, self.decoder_hidden_dim) < 1 or self.step_s <= 0:
            raise ValueError(f"invalid model config {self}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> TrajectoryModelConfig:
        known = set(TrajectoryModelConfig.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}")
        return TrajectoryModelConfig(**d)


def heading_frame(obs: torch.Tensor, min_step_m: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin) of each agent's heading, each (B,), from (B, T, 2) observed positions."""
    last = obs[:, -1] - obs[:, -2]
    whole = obs[:, -1] - obs[:, 0]
    last_n = torch.linalg.vector_norm(last, dim=-1, keepdim=True)
    whole_n = torch.linalg.vector_norm(whole, dim=-1, keepdim=True)
    steps = obs.shape[1] - 1
    fallback_x = torch.zeros_like(last)
    fallback_x[:, 0] = 1.0
    direction = torch.where(
        last_n > min_step_m,
        last / last_n.clamp_min(1e-9),
        torch.where(whole_n > min_step_m * steps, whole / whole_n.clamp_min(1e-9), fallback_x),
    )
    return direction[:, 0], direction[:, 1]


def rotate(xy: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, T, 2) vectors by the per-agent angle whose (cos, sin) are (B,)."""
    c, s = cos[:, None], sin[:, None]
    x, y = xy[..., 0], xy[..., 1]
    return torch.stack((c * x - s * y, s * x + c * y), dim=-1)


class TrajectoryGRU(nn.Module):
    """(B, obs_len, 2) observed positions in metres -> (B, pred_len, 2) predicted positions."""

    def __init__(self, config: TrajectoryModelConfig = TrajectoryModelConfig()) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Sequential(nn.Linear(2, config.embed_dim), nn.ReLU())
        self.encoder = nn.GRU(config.embed_dim, config.hidden_dim, batch_first=True)
        social = config.neighbour_dim if config.max_neighbours > 0 else 0
        # Per neighbour: relative position, its velocity and velocity relative to the agent, distance.
        self.neighbour_encoder = (
            nn.Sequential(nn.Linear(7, social), nn.ReLU(), nn.Linear(social, social), nn.ReLU())
            if social
            else None
        )
        # The decoder also sees the last displacement directly (its speed along +x after rotation).
        self.decoder = nn.Sequential(
            nn.Linear(config.hidden_dim + 2 + social, config.decoder_hidden_dim),
            nn.ReLU(),
            nn.Linear(config.decoder_hidden_dim, config.decoder_hidden_dim),
            nn.ReLU(),
            nn.Linear(config.decoder_hidden_dim, config.pred_len * 2),
        )
        last = self.decoder[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.register_buffer(
            "_steps", torch.arange(1, config.pred_len + 1, dtype=torch.float32), persistent=False
        )

    def forward(self, obs: torch.Tensor, neighbours: torch.Tensor | None = None) -> torch.Tensor:
        """``obs`` (B, obs_len, 2) m; ``neighbours`` (B, N, 5) rows ``[dx, dy, vx, vy, valid]`` with
        positions relative to the agent's last observation (m) and velocities in m per step; only
        used by a social model (``max_neighbours > 0``), where None means no neighbours."""
        cfg = self.config
        if obs.ndim != 3 or obs.shape[1] != cfg.obs_len or obs.shape[2] != 2:
            raise ValueError(f"expected (B, {cfg.obs_len}, 2) positions, got {tuple(obs.shape)}")
        cos, sin = heading_frame(obs, cfg.min_heading_step_m)
        disp = rotate(obs[:, 1:] - obs[:, :-1], cos, -sin)  # (B, obs_len-1, 2), heading along +x
        _, h = self.encoder(self.embed(disp))  # h: (1, B, hidden)
        last = disp[:, -1]  # (B, 2)
        feats = [h[0], last]
        if self.neighbour_encoder is not None:
            feats.append(self._social(neighbours, last, cos, sin, obs))
        offsets = self.decoder(torch.cat(feats, dim=-1)).view(-1, cfg.pred_len, 2)
        steps: torch.Tensor = self._steps  # type: ignore[assignment]
        cv = last[:, None, :] * steps[None, :, None]
        return obs[:, -1:, :] + rotate(cv + offsets, cos, sin)

    def _social(
        self,
        neighbours: torch.Tensor | None,
        last: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        obs: torch.Tensor,
    ) -> torch.Tensor:
        """Max-pooled (B, neighbour_dim) encoding of the neighbours in the heading frame."""
        assert self.neighbour_encoder is not None
        b = obs.shape[0]
        if neighbours is None or neighbours.shape[1] == 0:
            return obs.new_zeros(b, self.config.neighbour_dim)
        if neighbours.ndim != 3 or neighbours.shape[0] != b or neighbours.shape[2] != 5:
            raise ValueError(f"expected ({b}, N, 5) neighbours, got {tuple(neighbours.shape)}")
        rel = rotate(neighbours[..., 0:2], cos, -sin)  # (B, N, 2)
        vel = rotate(neighbours[..., 2:4], cos, -sin)
        dist = torch.linalg.vector_norm(rel, dim=-1, keepdim=True)
        x = torch.cat((rel, vel, vel - last[:, None, :], dist), dim=-1)  # (B, N, 7)
        enc = self.neighbour_encoder(x)  # (B, N, neighbour_dim), >= 0 after ReLU
        valid = neighbours[..., 4:5] > 0.5
        # ReLU features are >= 0, so zeroing invalid rows before the max keeps "no neighbour" = 0.
        return torch.where(valid, enc, torch.zeros_like(enc)).amax(dim=1)
