"""Perplexity from a model's log-likelihood: ``exp(total NLL / number of tokens)`` (natural log)."""

from __future__ import annotations

import math
from typing import Any

import torch

from aigc.core.errors import BadInputError

__all__ = ["perplexity", "Perplexity"]


def perplexity(nll_sum: float, n_tokens: int) -> float:
    """exp(nll_sum / n_tokens) for a summed negative log-likelihood in nats over ``n_tokens`` tokens."""
    if n_tokens <= 0:
        raise BadInputError(f"perplexity: need at least one token, got n_tokens={n_tokens}")
    if not math.isfinite(nll_sum) or nll_sum < 0:
        raise BadInputError(f"perplexity: summed NLL must be finite and >= 0, got {nll_sum}")
    return math.exp(nll_sum / n_tokens)


class Perplexity:
    """Accumulates summed NLL and token counts; ``compute`` gives the corpus perplexity."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.nll_sum, self.n_tokens = 0.0, 0

    def update(self, nll: Any, n_tokens: int | None = None) -> None:
        """Add per-token NLLs (a tensor of any shape, one value per token) or a summed NLL plus a count."""
        t = torch.as_tensor(nll, dtype=torch.float64)
        if n_tokens is None:
            n_tokens = t.numel()
        self.nll_sum += float(t.sum())
        self.n_tokens += int(n_tokens)

    def merge(self, other: "Perplexity") -> None:
        self.nll_sum += other.nll_sum
        self.n_tokens += other.n_tokens

    def compute(self) -> float:
        return perplexity(self.nll_sum, self.n_tokens)
