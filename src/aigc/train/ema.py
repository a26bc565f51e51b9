"""Exponential moving average of weights (Polyak averaging), kept as a separate module copy."""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["EMA", "warmup_decay"]


def warmup_decay(decay: float, step: int) -> float:
    """The EMA decay used at optimizer step ``step`` (1 = the first update).

    diffusers' ``EMAModel`` warm-up: ``min(decay, (1 + s) / (10 + s))`` with ``s = step - 1``, and 0
    (a plain copy) at the first update. Without it a 0.999 EMA of a 200-step run is still 82 %
    the random initial network (0.999 ** 200), which samples grey noise.
    """
    s = step - 1
    return 0.0 if s <= 0 else min(decay, (1 + s) / (10 + s))


class EMA:
    """Shadow copy of ``net`` updated as ``shadow = d * shadow + (1 - d) * param`` with the
    warmed-up decay ``d = warmup_decay(decay, step)``.

    Buffers (e.g. BatchNorm running stats) are copied, not averaged.
    """

    def __init__(self, net: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module, step: int) -> None:
        """Fold ``net`` in after optimizer step ``step`` (1-based; the Trainer's step count)."""
        shadow = [p for p in self.module.parameters()]
        live = [p.detach() for p in net.parameters()]
        if shadow:
            torch._foreach_lerp_(shadow, live, 1.0 - warmup_decay(self.decay, step))
        for b_shadow, b_live in zip(self.module.buffers(), net.buffers()):
            b_shadow.copy_(b_live)
