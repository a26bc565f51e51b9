"""Training hyper-parameters shared by every task."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from aigc.core.config import PRECISIONS
from aigc.core.errors import BadInputError

__all__ = ["TrainConfig", "lr_factor", "schedule_progress"]

SCHEDULES = ("constant", "cosine", "cosine-time")
TIME_CLOCKS = ("wall", "cpu")
OPTIMIZERS = ("adam", "muon")


@dataclass(kw_only=True)
class TrainConfig:
    """How to train; saved under ``"train"`` in config.json."""

    steps: int = 1000
    batch_size: int = 64
    lr: float = 2e-4
    # "constant", "cosine" (decays to min_lr_ratio * lr over the steps) or "cosine-time" (over the time
    # limit, or the steps if they end first: a budget in seconds gets a whole schedule on any machine)
    schedule: str = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1
    grad_clip: float | None = None  # max global L2 norm per optimizer, None = off
    # "adam": the objective's own optimizers (Adam/AdamW); "muon": Muon on hidden weights, Adam on the
    # rest (aigc.train.muon), for objectives that do not set up their own
    optimizer: str = "adam"
    accumulate: int = 1  # micro-batches per optimizer step
    ema_decay: float | None = None  # e.g. 0.999; None = no EMA
    precision: str = "fp32"
    device: str = "auto"
    seed: int = 0
    checkpoint_every: int = 500
    sample_every: int = 0  # 0 = only at the end
    log_every: int = 10
    keep_checkpoints: int = 2
    progress: bool = True
    time_limit_s: float | None = None  # stop (with a checkpoint) after this much training time
    time_limit_clock: str = "wall"  # "wall" (elapsed seconds) or "cpu" (this process's CPU seconds)
    # training extensions (aigc.train.extensions): name -> JSON options, e.g. {"dp": {"epsilon": 3.0}}
    extensions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = [
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.lr > 0 and math.isfinite(self.lr), f"lr must be a positive number, got {self.lr}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}, got {self.schedule!r}"),
            (self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}"),
            (0 <= self.min_lr_ratio <= 1, f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}"),
            (self.grad_clip is None or self.grad_clip > 0, f"grad_clip must be > 0, got {self.grad_clip}"),
            (self.accumulate >= 1, f"accumulate must be >= 1, got {self.accumulate}"),
            (self.ema_decay is None or 0 < self.ema_decay < 1, f"ema_decay must be in (0, 1), got {self.ema_decay}"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {self.precision!r}"),
            (self.checkpoint_every >= 1, f"checkpoint_every must be >= 1, got {self.checkpoint_every}"),
            (self.sample_every >= 0, f"sample_every must be >= 0, got {self.sample_every}"),
            (self.log_every >= 1, f"log_every must be >= 1, got {self.log_every}"),
            (self.time_limit_s is None or self.time_limit_s > 0, f"time_limit_s must be > 0, got {self.time_limit_s}"),
            (self.schedule != "cosine-time" or self.time_limit_s is not None,
             "schedule 'cosine-time' decays over the time limit: give time_limit_s (--time-limit)"),
            (self.time_limit_clock in TIME_CLOCKS,
             f"time_limit_clock must be one of {TIME_CLOCKS}, got {self.time_limit_clock!r}"),
            (self.keep_checkpoints >= 1, f"keep_checkpoints must be >= 1, got {self.keep_checkpoints}"),
            (isinstance(self.extensions, dict) and all(isinstance(v, dict) for v in self.extensions.values()),
             f"extensions must map names to option dicts, got {self.extensions!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInputError(message)

    def replace(self, **changes: object) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def schedule_progress(config: TrainConfig, step: int, time_progress: float = 0.0) -> float:
    """How far the decay has gone at optimizer step ``step``, in [0, 1]: the steps after warm-up, or
    for ``"cosine-time"`` ``time_progress`` (the time limit's share spent) when that is further."""
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, max(0.0, (step - config.warmup_steps) / span))
    if config.schedule == "cosine-time":
        progress = max(progress, min(1.0, time_progress))
    return progress


def lr_factor(config: TrainConfig, step: int, time_progress: float = 0.0) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based).

    Linear warm-up then constant or cosine decay (Loshchilov & Hutter 2017, SGDR) to
    ``min_lr_ratio``; ``"cosine-time"`` decays over :func:`schedule_progress` (steps or time,
    whichever is further).
    """
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return 1.0
    cosine = 0.5 * (1.0 + math.cos(math.pi * schedule_progress(config, step, time_progress)))
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine
