"""Exponential moving average of weights (Polyak averaging), kept as a separate module copy."""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """Shadow copy of ``net`` updated as ``shadow = decay * shadow + (1 - decay) * param``.

    Buffers (e.g. BatchNorm running stats) are copied, not averaged.
    """

    def __init__(self, net: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        shadow = [p for p in self.module.parameters()]
        live = [p.detach() for p in net.parameters()]
        if shadow:
            torch._foreach_lerp_(shadow, live, 1.0 - self.decay)
        for b_shadow, b_live in zip(self.module.buffers(), net.buffers()):
            b_shadow.copy_(b_live)
