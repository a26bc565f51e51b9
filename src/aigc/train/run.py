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

__all__ = ["build_seeded", "run_fit", "run_training"]


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


def run_fit(*, task: str, architecture: str, settings: Any, objective: Callable[[], Any],
            data: Mapping[str, torch.Tensor], config: TrainConfig, out: str | os.PathLike,
            resume: bool = False, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Fit an objective of the :class:`~aigc.train.objective.FitsOnce` kind in one pass and write
    its model directory (config.json, model.safetensors) as the Trainer would, so ``aigc.load``,
    ``aigc info`` and the server treat it like any other. Of the training extensions only ``dp``
    applies: the fit's statistics are then released through the Gaussian mechanism
    (:mod:`aigc.train.release`) and the privacy spent goes under ``extensions.dp``. Returns a
    summary shaped like the Trainer's (``step`` is 1: the one pass)."""
    import time
    from pathlib import Path

    from aigc import __version__
    from aigc.core.atomic import atomic_write_json
    from aigc.core.errors import BadInputError
    from aigc.core.modeldir import CONFIG_NAME, WEIGHTS_NAME, save_weights
    from aigc.core.seed import make_generator
    from aigc.train.release import StatisticsRelease

    out = Path(out)
    if resume:
        raise BadInputError(f"--resume: {architecture} is fitted in one pass over the data, with nothing to "
                            "resume; fit it again into a new --out")
    if (out / CONFIG_NAME).exists():
        raise BadInputError(f"{out} already holds a model; choose another --out")
    other = sorted(set(config.extensions) - {"dp"})
    if other:
        flags = {"transfer": "--init-from/--lora", "augment": "--augment", "adversarial": "--adversarial"}
        raise BadInputError(f"{architecture} is fitted in one pass, not by gradient steps, so "
                            f"{', '.join(flags.get(n, n) for n in other)} does not apply to it")
    start, cpu = time.perf_counter(), time.process_time()
    built = build_seeded(config.seed, objective)
    nets = built.networks()
    release = StatisticsRelease(config.extensions.get("dp"), built.privacy_shares(),
                                generator=make_generator(config.seed * 7_919 + 11))
    logs = built.fit(nets, data, release)
    full = {"aigc_version": __version__, "task": task, "architecture": architecture, **dict(meta or {}),
            "settings": config_to_dict(settings), "model": config_to_dict(built.config),
            "train": config_to_dict(config), "fit": "one pass (closed form), no gradient steps"}
    if (spent := release.describe()) is not None:
        full["extensions"] = {"dp": spent}
        logs = {**logs, "dp_epsilon": spent["epsilon"]}
    out.mkdir(parents=True, exist_ok=True)
    tensors = {f"{n}.{k}": v for n, net in nets.items() for k, v in net.state_dict().items()}
    save_weights(out / WEIGHTS_NAME, tensors, metadata={"step": "1", "aigc_version": __version__})
    atomic_write_json(out / CONFIG_NAME, full)  # last: a directory with config.json is complete
    seconds = time.perf_counter() - start
    shown = ", ".join(f"{k}={v:.4g}" for k, v in logs.items())
    print(f"fitted {architecture} in one pass in {seconds:.1f}s ({shown}); model in {out}")
    return {"step": 1, "seconds": seconds, "cpu_s": time.process_time() - cpu, "logs": logs, "stopped": None}
