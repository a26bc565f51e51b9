"""Command-line options every ``aigc train <task>`` shares, mapped onto :class:`TrainConfig`."""

from __future__ import annotations

import argparse

from aigc.train.config import TrainConfig

__all__ = ["add_train_args", "train_config_from_args", "positive_int"]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def add_train_args(p: argparse.ArgumentParser, *, steps: int, batch_size: int, lr: float) -> None:
    g = p.add_argument_group("training (shared by every task)")
    g.add_argument("--out", required=True, help="model directory to write (config.json, weights, logs, samples)")
    g.add_argument("--resume", action="store_true", help="continue exactly from the last checkpoint in --out")
    g.add_argument("--steps", type=positive_int, default=steps, help=f"optimizer steps (default {steps})")
    g.add_argument("--batch-size", type=positive_int, default=batch_size, help=f"per process (default {batch_size})")
    g.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr:g})")
    g.add_argument("--schedule", choices=["constant", "cosine"], default="constant", help="learning-rate schedule")
    g.add_argument("--warmup", type=int, default=0, metavar="STEPS", help="linear warm-up steps")
    g.add_argument("--grad-clip", type=float, default=None, metavar="NORM", help="clip gradient L2 norm")
    g.add_argument("--accumulate", type=positive_int, default=1, metavar="K", help="micro-batches per step")
    g.add_argument("--ema", type=float, default=None, metavar="DECAY", help="keep an EMA of weights, e.g. 0.999")
    g.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32", help="autocast precision")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--checkpoint-every", type=positive_int, default=500, metavar="STEPS")
    g.add_argument("--sample-every", type=int, default=0, metavar="STEPS", help="preview grids (0 = at the end)")
    g.add_argument("--log-every", type=positive_int, default=10, metavar="STEPS")
    g.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="stop after this much training time (checkpointed; --resume continues)")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, schedule=args.schedule,
        warmup_steps=args.warmup, grad_clip=args.grad_clip, accumulate=args.accumulate,
        ema_decay=args.ema, precision=args.precision, device=args.device, seed=args.seed,
        checkpoint_every=args.checkpoint_every, sample_every=args.sample_every,
        log_every=args.log_every, progress=not args.no_progress, time_limit_s=args.time_limit,
    )
