"""``run_training``: what every task's ``train()`` ends with, so all tasks train the same way.

It seeds network initialisation from ``config.seed`` (the caller's global RNG is left as it was),
writes the task, architecture and settings into config.json (``--resume`` rebuilds the run from
them alone), runs the one :class:`~aigc.train.trainer.Trainer`, and on rank 0 only plots the curves
and prints one line.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import torch

from aigc.core.config import config_to_dict
from aigc.train.config import TrainConfig
from aigc.train.trainer import Objective, Trainer

__all__ = ["build_seeded", "run_training"]


def build_seeded(seed: int, build: Callable[[], Any]) -> Any:
    """``build()`` with the global torch RNG seeded by ``seed`` and restored afterwards: the same
    seed gives the same initial weights, and the caller's random state is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def run_training(*, task: str, architecture: str, settings: Any, objective: Objective | Callable[[], Objective],
                 data: Mapping[str, torch.Tensor], config: TrainConfig, out: str | os.PathLike,
                 resume: bool = False, meta: Mapping[str, Any] | None = None,
                 preview: Callable[..., Any] | None = None, report: bool = True,
                 after_fit: Callable[[Trainer, dict], None] | None = None,
                 save_extra: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Train ``objective`` on ``data`` into ``out``; returns the Trainer's summary.

    ``objective`` may be a factory, called under :func:`build_seeded` (pass a built objective when
    it was loaded or seeded elsewhere). ``settings`` is the task's settings dataclass, stored under
    ``"settings"``; ``meta`` adds keys to config.json (e.g. the data description under ``"data"``).
    ``after_fit(trainer, summary)`` may add figures to the summary (e.g. a validation loss) before
    the report line. ``save_extra(out_dir)`` writes the task's other files (e.g. tokenizer.json)
    with the first checkpoint.
    """
    if callable(objective) and not hasattr(objective, "training_step"):
        objective = build_seeded(config.seed, objective)
    full_meta = {"task": task, "architecture": architecture, **dict(meta or {}),
                 "settings": config_to_dict(settings)}
    trainer = Trainer(objective, config, out, meta=full_meta, resume=resume, preview=preview,
                      save_extra=save_extra)
    summary = trainer.fit(data)
    if after_fit is not None:
        after_fit(trainer, summary)
    if report and trainer.dist.is_main:
        from aigc.train.report import report_training

        extra = "".join(f", {k}={v:.4f}" for k, v in summary.items() if k == "val_loss")
        report_training(summary, architecture, out, extra=extra)
    return summary
