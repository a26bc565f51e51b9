"""Muon for the hidden weights, Adam for the rest: one optimizer, one state dict.

Muon (Jordan et al. 2024, "Muon: an optimizer for hidden layers in neural networks"; Liu et al.
2025, "Muon is scalable for LLM training") replaces each weight matrix's momentum update by its
nearest semi-orthogonal matrix (five Newton-Schulz steps), so every direction of the layer moves at
the same rate. The update is ``torch.optim.Muon``'s with ``adjust_lr_fn="match_rms_adamw"`` (its RMS
matches AdamW's, so Adam's learning rate carries over); ``torch.optim.Muon`` itself takes 2-D
parameters only, so convolution kernels ``(out, in, kh, kw)`` are orthogonalised as the
``(out, in*kh*kw)`` matrix they multiply with, as the reference implementation does. Biases, norm
gains, embeddings and the network's first and last layer stay on Adam (Jordan: Muon is for hidden
layers). Tests check both halves step for step against ``torch.optim.Muon`` and ``torch.optim.Adam``.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

__all__ = ["Muon", "muon_optimizer", "hidden_weights"]

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # Jordan's quintic: steepest slope at 0 (torch's defaults)
NS_STEPS = 5


def orthogonalize(update: torch.Tensor, steps: int = NS_STEPS, eps: float = 1e-7) -> torch.Tensor:
    """The Newton-Schulz approximation of ``U V^T`` for ``update = U S V^T`` (2-D, computed in bf16)."""
    a, b, c = NS_COEFFICIENTS
    x = update.bfloat16()
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)  # spectral norm <= 1
    for _ in range(steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    """Param groups with ``muon=True`` take the Muon update, the others Adam's (decoupled weight
    decay for both, as in AdamW). ``lr`` is one number for both halves; the Muon half is scaled by
    ``0.2 * sqrt(max(out, fan_in))`` so its update RMS matches Adam's."""

    def __init__(self, params: Iterable, lr: float = 1e-3, *, momentum: float = 0.95,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        if not 0 <= momentum < 1 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"momentum and betas must be in [0, 1), got {momentum} and {betas}")
        super().__init__(params, dict(lr=lr, momentum=momentum, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, muon=False))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 (torch's signature)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("Muon does not support sparse gradients")
                (self._muon if group["muon"] else self._adam)(p, group)
        return loss

    def _muon(self, p: torch.Tensor, group: dict) -> None:
        grad = p.grad.reshape(p.shape[0], -1)
        state = self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(grad)
        buf, m = state["momentum_buffer"], group["momentum"]
        buf.lerp_(grad, 1 - m)
        update = orthogonalize(grad.lerp(buf, m))  # Nesterov
        rows, cols = grad.shape
        p.mul_(1 - group["lr"] * group["weight_decay"])
        p.add_(update.reshape(p.shape).to(p.dtype), alpha=-group["lr"] * 0.2 * math.sqrt(max(rows, cols)))

    def _adam(self, p: torch.Tensor, group: dict) -> None:
        state = self.state[p]
        if "step" not in state:
            state["step"] = torch.zeros((), dtype=torch.float32)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        (b1, b2), lr = group["betas"], group["lr"]
        state["step"] += 1
        t = float(state["step"])
        state["exp_avg"].lerp_(p.grad, 1 - b1)
        state["exp_avg_sq"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
        denom = (state["exp_avg_sq"].sqrt() / math.sqrt(1 - b2 ** t)).add_(group["eps"])
        p.mul_(1 - lr * group["weight_decay"])
        p.addcdiv_(state["exp_avg"], denom, value=-lr / (1 - b1 ** t))


def hidden_weights(net: nn.Module) -> list[str]:
    """Names of the parameters Muon should train: matrices and kernels (>= 2-D) other than
    embeddings and the first and last such weight in registration order (input and output layers)."""
    embeddings = {id(m.weight) for m in net.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))}
    weights = [n for n, p in net.named_parameters() if p.ndim >= 2 and p.requires_grad and id(p) not in embeddings]
    return weights[1:-1]


def muon_optimizer(net: nn.Module, lr: float, *, betas: tuple[float, float] = (0.9, 0.999),
                   weight_decay: float = 0.0) -> Muon:
    """A :class:`Muon` over ``net``: its :func:`hidden_weights` on Muon, every other parameter on Adam."""
    hidden = set(hidden_weights(net))
    named = list(net.named_parameters())
    groups = [{"params": [p for n, p in named if n in hidden], "muon": True},
              {"params": [p for n, p in named if n not in hidden], "muon": False}]
    return Muon([g for g in groups if g["params"]], lr=lr, betas=betas, weight_decay=weight_decay)
