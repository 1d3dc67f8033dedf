"""Training of ``TrajectoryGRU`` on (N, obs_len+pred_len, 2) windows; kept apart from the model.

Deterministic for a fixed seed on one machine/torch version: seeded torch and numpy generators,
``torch.use_deterministic_algorithms``, single-process batching, a fixed epoch budget (no wall-clock
cut-off unless ``max_time_s`` is set, which then says so in the result).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lepton_perception.core.prediction.data import F64
from lepton_perception.core.prediction.model import TrajectoryGRU, TrajectoryModelConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    epochs: int = 35  # upper bound; early stopping may end sooner
    patience_epochs: int = 8  # stop after this many epochs without a better val ADE
    batch_size: int = 128
    lr: float = 3e-3
    lr_decay_per_epoch: float = 0.95
    weight_decay: float = 1e-5
    flip_prob: float = 0.5  # mirror y (left/right) augmentation
    scale_range: tuple[float, float] = (1.0, 1.0)  # uniform speed/size scaling augmentation
    # Gaussian noise added to the observed positions only, std uniform in [0, obs_noise_m] per window:
    # teaches the model to smooth jittery annotations (ETH, hotel) instead of trusting the last step.
    obs_noise_m: float = 0.1
    obs_noise_prob: float = 0.5  # fraction of windows that get observation noise
    final_weight: float = 0.0  # extra weight of the last step's error in the loss (FDE term)
    num_threads: int = 1  # torch intra-op threads; keep small on shared CPUs
    max_time_s: float | None = None  # safety cut-off; breaks reproducibility when it triggers

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    model: TrajectoryGRU
    best_epoch: int
    best_val_ade_m: float
    best_val_fde_m: float
    epochs_run: int
    seconds: float
    stopped_by_time: bool
    history: list[dict[str, float]] = field(default_factory=list)


def _augment(
    batch: torch.Tensor, nb: torch.Tensor, cfg: TrainConfig, gen: torch.Generator, obs_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, 2) windows and (B, N, 5) neighbours -> augmented copies (flip, scale, obs noise).

    Rotation is not augmented: the model normalises it away exactly.
    """
    b = batch.shape[0]
    if cfg.flip_prob > 0:
        flip = torch.rand(b, generator=gen) < cfg.flip_prob
        sign = torch.where(flip, -1.0, 1.0)[:, None]
        batch = torch.stack((batch[..., 0], batch[..., 1] * sign), dim=-1)
        nb = torch.stack((nb[..., 0], nb[..., 1] * sign, nb[..., 2], nb[..., 3] * sign, nb[..., 4]), dim=-1)
    lo, hi = cfg.scale_range
    if hi > lo:
        scale = lo + (hi - lo) * torch.rand(b, generator=gen)
        batch = batch * scale[:, None, None]
        nb = torch.cat((nb[..., :4] * scale[:, None, None], nb[..., 4:]), dim=-1)
    if cfg.obs_noise_m > 0:
        noisy = torch.rand(b, generator=gen) < cfg.obs_noise_prob
        std = cfg.obs_noise_m * torch.rand(b, generator=gen) * noisy
        noise = torch.randn(b, obs_len, 2, generator=gen) * std[:, None, None]
        batch = torch.cat((batch[:, :obs_len] + noise, batch[:, obs_len:]), dim=1)
    return batch, nb


def _loss(pred: torch.Tensor, truth: torch.Tensor, final_weight: float) -> torch.Tensor:
    err = torch.linalg.vector_norm(pred - truth, dim=-1)  # (B, pred_len) metres
    return err.mean() + final_weight * err[:, -1].mean()


@torch.inference_mode()
def evaluate(
    model: TrajectoryGRU, windows: F64, neighbours: F64 | None = None, batch_size: int = 4096
) -> tuple[float, float]:
    """Deterministic ADE/FDE (metres) of ``model`` on (N, obs+pred, 2) windows (+ (N, K, 5) neighbours)."""
    model.eval()
    obs_len = model.config.obs_len
    errs = []
    for i in range(0, len(windows), batch_size):
        w = torch.as_tensor(windows[i : i + batch_size], dtype=torch.float32)
        nb = (
            None
            if neighbours is None
            else torch.as_tensor(neighbours[i : i + batch_size], dtype=torch.float32)
        )
        pred = model(w[:, :obs_len], nb)
        errs.append(torch.linalg.vector_norm(pred - w[:, obs_len:], dim=-1))
    e = torch.cat(errs)
    return float(e.mean()), float(e[:, -1].mean())


def train(
    train_windows: F64,
    val_windows: F64,
    *,
    train_neighbours: F64 | None = None,
    val_neighbours: F64 | None = None,
    model_config: TrajectoryModelConfig | None = None,
    config: TrainConfig | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    on_batch: Callable[[], None] | None = None,
    checkpoint: Path | None = None,
) -> TrainResult:
    """Train on ``train_windows``; keep the weights with the best val ADE (early stopping).

    With ``checkpoint``, the full training state (weights, best weights, optimiser, scheduler and
    random generator) is written there after every epoch, and an existing checkpoint of the same
    configuration is resumed: an interrupted run continues to exactly the result of an
    uninterrupted one.
    """
    model_config = model_config or TrajectoryModelConfig()
    config = config or TrainConfig()
    seq_len = model_config.obs_len + model_config.pred_len
    for name, w in (("train", train_windows), ("val", val_windows)):
        if w.ndim != 3 or w.shape[1:] != (seq_len, 2) or len(w) == 0:
            raise ValueError(f"{name} windows must be non-empty (N, {seq_len}, 2), got {w.shape}")
    for name, w, nb in (("train", train_windows, train_neighbours), ("val", val_windows, val_neighbours)):
        if nb is not None and (nb.ndim != 3 or len(nb) != len(w) or nb.shape[2] != 5):
            raise ValueError(f"{name} neighbours must be (N={len(w)}, K, 5), got {nb.shape}")
    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(config.num_threads)
    torch.use_deterministic_algorithms(True)
    try:
        return _train(
            (train_windows, train_neighbours),
            (val_windows, val_neighbours),
            model_config,
            config,
            (on_epoch, on_batch),
            checkpoint=checkpoint,
        )
    finally:
        torch.set_num_threads(prev_threads)
        torch.use_deterministic_algorithms(prev_det)


@dataclass
class _Progress:
    """What a checkpoint must restore besides the optimiser: best model so far and early stopping."""

    best_state: dict[str, Any]
    best: tuple[float, float] = (float("inf"), float("inf"))  # (val ADE, val FDE) of best_state
    best_epoch: int = -1
    since_best: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    epoch: int = 0
    done: bool = False


@dataclass
class _Trainer:
    model: TrajectoryGRU
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.ExponentialLR
    gen: torch.Generator
    signature: str  # JSON of the model and training configuration

    def resume(self, checkpoint: Path, progress: _Progress) -> _Progress:
        ck = torch.load(checkpoint, weights_only=True)
        if ck["signature"] != self.signature:
            raise ValueError(f"checkpoint {checkpoint} was written with another configuration")
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        self.sched.load_state_dict(ck["scheduler"])
        self.gen.set_state(ck["generator"])
        log.info("resumed %s after epoch %d", checkpoint, ck["epoch"])
        return _Progress(
            ck["best_state"],
            (ck["best_ade"], ck["best_fde"]),
            ck["best_epoch"],
            ck["since_best"],
            ck["history"],
            ck["epoch"],
            ck["done"],
        )

    def save(self, checkpoint: Path, p: _Progress) -> None:
        state = {
            "signature": self.signature,
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "generator": self.gen.get_state(),
            "best_state": p.best_state,
            "best_ade": p.best[0],
            "best_fde": p.best[1],
            "best_epoch": p.best_epoch,
            "since_best": p.since_best,
            "history": p.history,
            "epoch": p.epoch,
            "done": p.done,
        }
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = checkpoint.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(checkpoint)

    def epoch(
        self,
        data: torch.Tensor,
        nb_all: torch.Tensor,
        config: TrainConfig,
        on_batch: Callable[[], None] | None,
    ) -> float:
        """One pass over shuffled (N, T, 2) windows; mean training loss."""
        model, obs_len = self.model, self.model.config.obs_len
        model.train()
        perm = torch.randperm(len(data), generator=self.gen)
        total, n = 0.0, 0
        for i in range(0, len(data), config.batch_size):
            idx = perm[i : i + config.batch_size]
            batch, nb = _augment(data[idx], nb_all[idx], config, self.gen, obs_len)
            pred = model(batch[:, :obs_len], nb)
            loss = _loss(pred, batch[:, obs_len:], config.final_weight)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            self.opt.step()
            total += float(loss.detach()) * len(batch)
            n += len(batch)
            if on_batch is not None:
                on_batch()
        self.sched.step()
        return total / n


def _record(p: _Progress, model: TrajectoryGRU, row: dict[str, float], patience: int, last: int) -> None:
    """Book one validated epoch: history, best model, early-stopping count, done flag."""
    p.history.append(row)
    if row["val_ade"] < p.best[0]:
        p.best, p.best_epoch, p.since_best = (row["val_ade"], row["val_fde"]), p.epoch, 0
        p.best_state = copy.deepcopy(model.state_dict())
    else:
        p.since_best += 1
    p.done = p.since_best >= patience or p.epoch == last


def _train(
    train_set: tuple[F64, F64 | None],
    val_set: tuple[F64, F64 | None],
    model_config: TrajectoryModelConfig,
    config: TrainConfig,
    callbacks: tuple[Callable[[int, dict[str, float]], None] | None, Callable[[], None] | None],
    *,
    checkpoint: Path | None,
) -> TrainResult:
    on_epoch, on_batch = callbacks
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = TrajectoryGRU(model_config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=config.lr_decay_per_epoch)
    data = torch.as_tensor(train_set[0], dtype=torch.float32)
    nb_all = torch.as_tensor(
        train_set[1] if train_set[1] is not None else np.zeros((len(data), 0, 5)), dtype=torch.float32
    )
    signature = {
        "model": model_config.to_dict(),
        "train": {k: v for k, v in config.to_dict().items() if k != "num_threads"},
    }
    trainer = _Trainer(model, opt, sched, gen, json.dumps(signature, sort_keys=True))
    progress = _Progress(copy.deepcopy(model.state_dict()))
    if checkpoint is not None and checkpoint.is_file():
        progress = trainer.resume(checkpoint, progress)
    t0 = time.perf_counter()
    stopped_by_time = False
    for epoch in range(progress.epoch + 1, 0 if progress.done else config.epochs + 1):
        progress.epoch = epoch
        train_loss = trainer.epoch(data, nb_all, config, on_batch)
        val_ade, val_fde = evaluate(model, *val_set)
        row = {"epoch": float(epoch), "train_loss": train_loss, "val_ade": val_ade, "val_fde": val_fde}
        log.debug("epoch %d: %s", epoch, row)
        if on_epoch is not None:
            on_epoch(epoch, row)
        _record(progress, model, row, config.patience_epochs, config.epochs)
        if checkpoint is not None:
            trainer.save(checkpoint, progress)
        if progress.since_best >= config.patience_epochs:
            break
        if config.max_time_s is not None and time.perf_counter() - t0 > config.max_time_s:
            log.warning("training stopped by max_time_s=%.0f after epoch %d", config.max_time_s, epoch)
            stopped_by_time = True
            break
    model.load_state_dict(progress.best_state)
    model.eval()
    return TrainResult(
        model=model,
        best_epoch=progress.best_epoch,
        best_val_ade_m=progress.best[0],
        best_val_fde_m=progress.best[1],
        epochs_run=progress.epoch,
        seconds=time.perf_counter() - t0,
        stopped_by_time=stopped_by_time,
        history=progress.history,
    )
