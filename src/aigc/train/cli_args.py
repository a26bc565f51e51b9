"""``aigc train <task>``: the training flags every task shares, and the one way the CLI trains.

A task adds its own flags (whose destinations are its settings dataclass's field names); the flags
here map onto :class:`TrainConfig`. ``--resume`` needs only ``--out``: the settings and training
configuration come from the model directory's config.json, and a flag that disagrees with them
stops the run, naming each differing setting, before anything is written.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from aigc.core.cli_args import add_device_arg, add_inference_args, add_seed_arg, positive_int
from aigc.core.errors import BadInputError

__all__ = ["add_train_args", "train_config_from_args", "positive_int", "add_inference_args",
           "run_train_command", "RESUMABLE"]

# CLI destination -> TrainConfig field
TRAIN_FLAGS: dict[str, str] = {
    "steps": "steps", "batch_size": "batch_size", "lr": "lr", "optimizer": "optimizer", "schedule": "schedule",
    "warmup": "warmup_steps", "grad_clip": "grad_clip", "accumulate": "accumulate", "ema": "ema_decay",
    "precision": "precision", "device": "device", "seed": "seed", "checkpoint_every": "checkpoint_every",
    "sample_every": "sample_every", "log_every": "log_every", "time_limit": "time_limit_s",
    "no_progress": "progress",
}
# what a resumed run may change; every other flag must agree with config.json
RESUMABLE = frozenset({"out", "resume", "steps", "time_limit", "no_progress", "device", "log_every",
                       "checkpoint_every", "sample_every"})


def _default_help(p: argparse.ArgumentParser, dest: str, what: str) -> tuple[Any, str]:
    value = p.get_default(dest)
    return value, f"{what} (default {value:g})" if value is not None else f"{what} (default: the architecture's)"


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The shared training flags. ``--steps``, ``--batch-size``, ``--lr``, ``--schedule`` and ``--warmup``
    default to what the task set with ``p.set_defaults`` (None = the architecture's ``default_lr`` /
    ``default_batch_size``)."""
    g = p.add_argument_group("training (shared by every task)")
    g.add_argument("--out", required=True, help="model directory to write (config.json, weights, logs, samples)")
    g.add_argument("--resume", action="store_true",
                   help="continue exactly from the last checkpoint in --out, with its stored settings "
                        "(only --steps, --time-limit, --device and logging flags may change)")
    steps = p.get_default("steps") or 1000
    g.add_argument("--steps", type=positive_int, default=steps, help=f"optimizer steps (default {steps})")
    batch, batch_help = _default_help(p, "batch_size", "per process")
    g.add_argument("--batch-size", type=positive_int, default=batch, help=batch_help)
    lr, lr_help = _default_help(p, "lr", "learning rate")
    g.add_argument("--lr", type=float, default=lr, help=lr_help)
    g.add_argument("--optimizer", choices=["adam", "muon"], default=p.get_default("optimizer"),
                   help="adam: the model's own (Adam/AdamW); muon: Muon on the hidden weight matrices and "
                        "conv kernels, Adam on the rest, same --lr (Moving MNIST SimVP, one CPU hour: "
                        "MSE 70.2 -> 59.8). Models whose objective sets its own optimizers take adam only "
                        "(default: the architecture's; adam unless it says otherwise, video simvp and layered: muon)")
    schedule, warmup = p.get_default("schedule") or "constant", p.get_default("warmup") or 0
    g.add_argument("--schedule", choices=["constant", "cosine", "cosine-time"], default=schedule,
                   help=f"learning-rate schedule: cosine decays over --steps; cosine-time over --time-limit "
                        f"(or --steps if they end first), so a budget in seconds ends annealed on any "
                        f"machine (default {schedule})")
    g.add_argument("--warmup", type=int, default=warmup, metavar="STEPS", help=f"linear warm-up steps (default {warmup})")
    g.add_argument("--grad-clip", type=float, default=None, metavar="NORM", help="clip gradient L2 norm")
    g.add_argument("--accumulate", type=positive_int, default=1, metavar="K", help="micro-batches per step")
    g.add_argument("--ema", type=float, default=None, metavar="DECAY",
                   help="keep an EMA of weights, e.g. 0.999 (decay warms up as in diffusers)")
    g.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32", help="autocast precision")
    add_device_arg(g)
    add_seed_arg(g, "seeds network initialisation, data order and sampling")
    g.add_argument("--checkpoint-every", type=positive_int, default=500, metavar="STEPS")
    g.add_argument("--sample-every", type=int, default=0, metavar="STEPS", help="preview grids (0 = at the end)")
    g.add_argument("--log-every", type=positive_int, default=10, metavar="STEPS")
    g.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="stop after this much training time (checkpointed; --resume continues)")
    g.add_argument("--no-progress", action="store_true",
                   help="hide the progress bar (also hidden when stderr is not a terminal)")
    from aigc.train.extensions import add_extension_args

    add_extension_args(p)


def _arch_defaults(task_name: str, args: argparse.Namespace) -> dict[str, Any]:
    """--lr/--batch-size/--optimizer left unset take the architecture's defaults (``default_lr``,
    ``default_batch_size``, ``default_optimizer``; else 2e-4 / 64 / adam)."""
    from aigc.core.registry import architecture

    need_lr = args.lr is None or args.batch_size is None
    need_optimizer = args.optimizer is None and getattr(args, "arch", None) is not None
    if not (need_lr or need_optimizer):
        return {}
    cls = architecture(task_name, args.arch)
    out: dict[str, Any] = {"optimizer": getattr(cls, "default_optimizer", None) or "adam"} if need_optimizer else {}
    if need_lr:
        out["lr"] = args.lr if args.lr is not None else getattr(cls, "default_lr", None) or 2e-4
        out["batch_size"] = (args.batch_size if args.batch_size is not None
                             else getattr(cls, "default_batch_size", None) or 64)
    return out


def train_config_from_args(args: argparse.Namespace, **overrides: Any):
    import sys

    from aigc.train.config import TrainConfig

    from aigc.train.extensions import extension_options

    values = {field: getattr(args, dest) for dest, field in TRAIN_FLAGS.items()}
    values["progress"] = not args.no_progress and sys.stderr.isatty()
    values["extensions"] = extension_options(args)
    values["optimizer"] = values["optimizer"] or "adam"  # the architecture's default comes in ``overrides``
    return TrainConfig(**{**values, **overrides})


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _resumed(task: Any, args: argparse.Namespace, explicit: set[str], settings_cls: type):
    """Settings and TrainConfig of the run stored in ``args.out``, with the allowed changes."""
    import sys

    from aigc.core.config import config_from_dict
    from aigc.core.modeldir import read_config
    from aigc.train.config import TrainConfig

    stored = read_config(args.out)
    if stored.get("task") != task.name:
        raise BadInputError(f"--resume: {args.out} holds a {stored.get('task')!r} model, not {task.name!r}")
    if "settings" not in stored or "train" not in stored:
        raise BadInputError(f"--resume: {Path(args.out) / 'config.json'} has no stored settings (written by an "
                            "older aigc); train into a new --out")
    old_train = TrainConfig(**stored["train"])
    conflicts = []
    for dest in sorted(explicit - RESUMABLE):
        given = getattr(args, dest)
        if dest in TRAIN_FLAGS:
            old = getattr(old_train, TRAIN_FLAGS[dest])
        elif dest in stored["settings"]:
            old = stored["settings"][dest]
        else:
            continue
        if old != given:
            conflicts.append(f"{_flag(dest)}: stored {old!r}, given {given!r}")
    if conflicts:
        raise BadInputError(f"--resume: {args.out} was trained with other settings ({'; '.join(conflicts)}); "
                            "drop those flags (--resume takes them from config.json) or train into another --out")
    changes = {TRAIN_FLAGS[d]: getattr(args, d) for d in explicit & RESUMABLE if d in TRAIN_FLAGS}
    if "progress" in changes:
        changes["progress"] = not args.no_progress
    changes.setdefault("progress", sys.stderr.isatty() and not args.no_progress)
    return config_from_dict(settings_cls, stored["settings"]), old_train.replace(**changes)


def run_train_command(task: Any, args: argparse.Namespace, explicit: set[str]) -> int:
    """``aigc train <task> ...``: build the task's settings and TrainConfig, then call its ``train``."""
    from aigc.core.registry import resolve

    settings_cls = resolve(task.settings)
    if args.resume:
        settings, config = _resumed(task, args, explicit, settings_cls)
    else:
        names = {f.name for f in dataclasses.fields(settings_cls)}
        try:
            settings = settings_cls(**{k: v for k, v in vars(args).items() if k in names})
        except (TypeError, ValueError) as exc:
            raise BadInputError(str(exc)) from exc
        config = train_config_from_args(args, **_arch_defaults(task.name, args))
    resolve(task.train)(settings, config, args.out, resume=args.resume)
    return 0
