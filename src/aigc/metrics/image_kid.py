"""Kernel Inception Distance (KID; Bińkowski et al. 2018, "Demystifying MMD GANs").

The unbiased estimate of the squared MMD with the cubic polynomial kernel
``k(x, y) = (x . y / D + 1) ** 3``, averaged over random subsets; the std over subsets says how
much to trust it. Unlike FID it is unbiased: two samples of one distribution give ~0 (± std).
Defaults (100 subsets of 1000) follow the paper and torch-fidelity.
"""

from __future__ import annotations

from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.metrics._common import RealFakeFeatures, as_features

__all__ = ["polynomial_kernel", "mmd2_unbiased", "kernel_inception_distance", "KID"]


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3, coef: float = 1.0) -> torch.Tensor:
    """(N, D) x (M, D) -> (N, M) kernel matrix ``(x y^T / D + coef) ** degree``."""
    return (x @ y.T / x.shape[1] + coef) ** degree


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 between (M, D) samples ``x`` and ``y`` (same M) with the polynomial kernel."""
    m = x.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    off_xx = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    off_yy = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return float(off_xx + off_yy - 2 * k_xy.sum() / (m * m))


def kernel_inception_distance(features_a: Any, features_b: Any, *, subsets: int = 100,
                              subset_size: int = 1000,
                              generator: torch.Generator | None = None) -> tuple[float, float]:
    """KID mean and std over ``subsets`` random subsets of two (N, D) feature sets.

    ``subset_size`` is capped at the smaller set size (it must be at least 2). Subsets are drawn
    without replacement inside a subset with ``generator`` (pass one for reproducible numbers).
    """
    a = as_features(features_a, "KID real", min_rows=2)
    b = as_features(features_b, "KID fake", min_rows=2)
    if a.shape[1] != b.shape[1]:
        raise BadInputError(f"KID: feature widths differ ({a.shape[1]} vs {b.shape[1]})")
    if subsets < 1:
        raise BadInputError(f"KID: subsets must be >= 1, got {subsets}")
    m = min(subset_size, a.shape[0], b.shape[0])
    values = []
    for _ in range(subsets):
        ia = torch.randperm(a.shape[0], generator=generator)[:m]
        ib = torch.randperm(b.shape[0], generator=generator)[:m]
        values.append(mmd2_unbiased(a[ia], b[ib]))
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std(unbiased=False))


class KID(RealFakeFeatures):
    """Accumulates real and fake (N, D) features; ``compute`` runs :func:`kernel_inception_distance`."""

    def __init__(self, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> None:
        super().__init__()
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed

    def compute(self) -> tuple[float, float]:
        g = torch.Generator().manual_seed(self.seed)
        return kernel_inception_distance(self.real.value(), self.fake.value(), subsets=self.subsets,
                                         subset_size=self.subset_size, generator=g)
