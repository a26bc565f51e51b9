"""Inception Score (Salimans et al. 2016): ``exp(E_x KL(p(y|x) || p(y)))`` over a classifier's
class probabilities, mean and std over ``splits`` contiguous chunks (10 in the paper).

It ranges from 1 (every sample gets the same prediction) to K (confident and uniformly spread
over K classes). Any classifier works; which one is named in every report.
"""

from __future__ import annotations

from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.metrics._common import FeatureBuffer, as_features

__all__ = ["inception_score", "InceptionScore"]


def _check_probs(p: torch.Tensor) -> None:
    if (p < 0).any() or not torch.allclose(p.sum(dim=1), torch.ones(p.shape[0], dtype=p.dtype), atol=1e-4):
        raise BadInputError("Inception Score: rows must be class probabilities (apply softmax to logits)")


def inception_score(probs: Any, splits: int = 10) -> tuple[float, float]:
    """IS mean and std over ``splits`` chunks of (N, K) class probabilities."""
    p = as_features(probs, "Inception Score probabilities", min_rows=1)
    _check_probs(p)
    if not 1 <= splits <= p.shape[0]:
        raise BadInputError(f"Inception Score: splits must be in [1, {p.shape[0]}], got {splits}")
    scores = []
    for chunk in torch.tensor_split(p, splits):
        marginal = chunk.mean(dim=0, keepdim=True)
        kl = (torch.xlogy(chunk, chunk) - torch.xlogy(chunk, marginal)).sum(dim=1).mean()
        scores.append(torch.exp(kl))
    t = torch.stack(scores)
    return float(t.mean()), float(t.std(unbiased=False))


class InceptionScore:
    """Accumulates (N, K) class probabilities; ``compute`` runs :func:`inception_score`."""

    def __init__(self, splits: int = 10) -> None:
        self.splits = splits
        self.probs = FeatureBuffer()

    def reset(self) -> None:
        self.probs.clear()

    def update(self, probs: Any) -> None:
        self.probs.add(probs)

    def merge(self, other: "InceptionScore") -> None:
        self.probs.extend(other.probs)

    def compute(self) -> tuple[float, float]:
        return inception_score(self.probs.value(), self.splits)
