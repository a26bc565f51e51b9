"""Improved precision and recall (Kynkäänniemi et al. 2019) from k-NN feature manifolds.

Each set's manifold is the union of balls around its samples, radius = distance to the k-th
nearest other sample (k = 3 in the paper). Precision = share of fake samples inside the real
manifold (quality); recall = share of real samples inside the fake manifold (coverage).
"""

from __future__ import annotations

from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.metrics._common import RealFakeFeatures, as_features

__all__ = ["knn_radii", "manifold_fraction", "precision_recall", "PrecisionRecall"]

_CHUNK = 1024  # rows per distance block: bounds memory at CHUNK x N doubles


def knn_radii(x: torch.Tensor, k: int = 3) -> torch.Tensor:
    """(N,) distance from each row of (N, D) ``x`` to its k-th nearest other row."""
    if x.shape[0] <= k:
        raise BadInputError(f"precision/recall: need more than k={k} samples, got {x.shape[0]}")
    out = [torch.cdist(c, x).kthvalue(k + 1, dim=1).values for c in x.split(_CHUNK)]
    return torch.cat(out)


def manifold_fraction(manifold: torch.Tensor, radii: torch.Tensor, queries: torch.Tensor) -> float:
    """Share of (M, D) ``queries`` within radius ``radii[i]`` of some row ``manifold[i]``."""
    inside = [(torch.cdist(c, manifold) <= radii[None, :]).any(dim=1) for c in queries.split(_CHUNK)]
    return float(torch.cat(inside).double().mean())


def precision_recall(real: Any, fake: Any, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of (M, D) ``fake`` features against (N, D) ``real`` features."""
    r = as_features(real, "precision/recall real", min_rows=2)
    f = as_features(fake, "precision/recall fake", min_rows=2)
    if r.shape[1] != f.shape[1]:
        raise BadInputError(f"precision/recall: feature widths differ ({r.shape[1]} vs {f.shape[1]})")
    precision = manifold_fraction(r, knn_radii(r, k), f)
    recall = manifold_fraction(f, knn_radii(f, k), r)
    return precision, recall


class PrecisionRecall(RealFakeFeatures):
    """Accumulates real and fake (N, D) features; ``compute`` runs :func:`precision_recall`."""

    def __init__(self, k: int = 3) -> None:
        super().__init__()
        self.k = k

    def compute(self) -> tuple[float, float]:
        return precision_recall(self.real.value(), self.fake.value(), self.k)
