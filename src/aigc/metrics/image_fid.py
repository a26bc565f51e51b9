"""Fréchet distance between two feature distributions (FID; Heusel et al. 2017).

FID = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2}), each set modelled as a Gaussian.

The trace of the matrix square root is computed as ``sum(sqrt(eig(A^{1/2} S_b A^{1/2})))`` with
``A^{1/2}`` the symmetric square root of ``S_a`` from ``eigh``: ``A^{1/2} S_b A^{1/2}`` is similar to
``S_a S_b`` but symmetric positive semi-definite, so its eigenvalues are real. Eigenvalues that
round-off pushes below zero are clamped to 0 (the documented epsilon is ``eps``: it is added to both
diagonals first, 0 by default — pass e.g. 1e-6 as pytorch-fid does for badly conditioned inputs).
The result is therefore always a real, finite float, even for singular covariances (N <= D).
"""

from __future__ import annotations

from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.metrics._common import as_features, to_tensor64

__all__ = ["gaussian_stats", "frechet_distance_from_stats", "frechet_distance", "FID"]


def gaussian_stats(features: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of (N, D) features, in float64."""
    x = as_features(features, min_rows=2)
    mu = x.mean(dim=0)
    xc = x - mu
    return mu, xc.T @ xc / (x.shape[0] - 1)


def _sym_sqrt(m: torch.Tensor) -> torch.Tensor:
    """Symmetric PSD square root via eigh; negative round-off eigenvalues are clamped to 0."""
    vals, vecs = torch.linalg.eigh((m + m.T) / 2)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance_from_stats(mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any,
                                eps: float = 0.0) -> float:
    """Fréchet distance of N(mu_a, sigma_a) and N(mu_b, sigma_b); mu (D,), sigma (D, D)."""
    mu_a, mu_b = to_tensor64(mu_a), to_tensor64(mu_b)
    sa, sb = to_tensor64(sigma_a), to_tensor64(sigma_b)
    d = mu_a.shape[0]
    if mu_b.shape != (d,) or sa.shape != (d, d) or sb.shape != (d, d):
        raise BadInputError(
            f"Fréchet distance: shape mismatch mu {tuple(mu_a.shape)}/{tuple(mu_b.shape)}, "
            f"sigma {tuple(sa.shape)}/{tuple(sb.shape)}"
        )
    if eps:
        eye = torch.eye(d, dtype=torch.float64)
        sa, sb = sa + eps * eye, sb + eps * eye
    root_a = _sym_sqrt(sa)
    inner = root_a @ sb @ root_a
    tr_covmean = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()
    diff = mu_a - mu_b
    value = diff.dot(diff) + torch.trace(sa) + torch.trace(sb) - 2 * tr_covmean
    return float(value)


def frechet_distance(features_a: Any, features_b: Any, eps: float = 0.0) -> float:
    """Fréchet distance between two (N, D) feature sets (numpy or torch), computed in float64."""
    mu_a, sa = gaussian_stats(features_a)
    mu_b, sb = gaussian_stats(features_b)
    return frechet_distance_from_stats(mu_a, sa, mu_b, sb, eps=eps)


class _Moments:
    """Running float64 count, sum and sum of outer products of (N, D) rows (mergeable by addition)."""

    def __init__(self) -> None:
        self.n = 0
        self.s1: torch.Tensor | None = None
        self.s2: torch.Tensor | None = None

    def add(self, x: torch.Tensor) -> None:
        if self.s1 is not None and x.shape[1] != self.s1.shape[0]:
            raise BadInputError(f"feature width changed from {self.s1.shape[0]} to {x.shape[1]}")
        s1, s2 = x.sum(0), x.T @ x
        self.s1 = s1 if self.s1 is None else self.s1 + s1
        self.s2 = s2 if self.s2 is None else self.s2 + s2
        self.n += x.shape[0]

    def merge(self, other: "_Moments") -> None:
        if other.s1 is None:
            return
        if self.s1 is None:
            self.n, self.s1, self.s2 = other.n, other.s1.clone(), other.s2.clone()  # type: ignore[union-attr]
            return
        self.n += other.n
        self.s1 = self.s1 + other.s1
        self.s2 = self.s2 + other.s2  # type: ignore[operator]

    def stats(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if self.s1 is None or self.n < 2:
            raise BadInputError(f"FID: need at least 2 {name} samples, got {self.n}")
        mu = self.s1 / self.n
        return mu, (self.s2 - self.n * torch.outer(mu, mu)) / (self.n - 1)


class FID:
    """Accumulates real and fake (N, D) features as running moments; ``compute`` gives the FID.

    Only sums are kept (O(D^2) memory), so any number of batches or merged workers give the same
    result as one call to :func:`frechet_distance` (up to float64 round-off).
    """

    def __init__(self, eps: float = 0.0) -> None:
        self.eps = eps
        self.reset()

    def reset(self) -> None:
        self.real, self.fake = _Moments(), _Moments()

    def update(self, features: Any, real: bool) -> None:
        """Add a batch of (N, D) features to the real or the fake side."""
        (self.real if real else self.fake).add(as_features(features))

    def merge(self, other: "FID") -> None:
        self.real.merge(other.real)
        self.fake.merge(other.fake)

    def compute(self) -> float:
        mu_r, s_r = self.real.stats("real")
        mu_f, s_f = self.fake.stats("fake")
        return frechet_distance_from_stats(mu_r, s_r, mu_f, s_f, eps=self.eps)
