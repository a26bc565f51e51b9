"""FID: closed form for Gaussians, an independent scipy sqrtm reference, stability, class = functional."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from aigc.core.errors import BadInputError
from aigc.metrics import FID, frechet_distance
from aigc.metrics.image_fid import frechet_distance_from_stats, gaussian_stats


def _scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The pytorch-fid formula with scipy.linalg.sqrtm (independent reference)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_closed_form_diagonal_gaussians() -> None:
    rng = np.random.default_rng(0)
    d = 6
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    v1, v2 = rng.uniform(0.5, 2, d), rng.uniform(0.5, 2, d)
    # Diagonal Gaussians: FID = |mu1-mu2|^2 + sum (sqrt v1 - sqrt v2)^2
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    got = frechet_distance_from_stats(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-6)


def test_closed_form_full_covariance_commuting() -> None:
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    l1, l2 = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    s1, s2 = q @ np.diag(l1) @ q.T, q @ np.diag(l2) @ q.T
    expected = 1.0 + ((np.sqrt(l1) - np.sqrt(l2)) ** 2).sum()
    got = frechet_distance_from_stats(np.zeros(5), s1, np.eye(5)[0], s2)
    assert got == pytest.approx(expected, rel=1e-6)


def test_matches_scipy_sqrtm_reference() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 16))
    b = rng.normal(size=(250, 16)) @ rng.normal(size=(16, 16)) * 0.5 + 0.3
    ref = _scipy_fid(a, b)
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-4)
    assert frechet_distance(torch.tensor(a, dtype=torch.float32), torch.tensor(b)) == pytest.approx(ref, rel=1e-4)


def test_identical_sets_give_zero_and_near_singular_is_real() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(40, 8))
    assert abs(frechet_distance(a, a)) < 1e-9
    # fewer samples than dimensions: singular covariances; rank-1 features
    low = rng.normal(size=(10, 64))
    rank1 = np.outer(rng.normal(size=30), rng.normal(size=64))
    for x, y in [(low, low[::-1] + 1e-3), (rank1, rank1 * 1.01), (low, rank1[:10])]:
        v = frechet_distance(x, y)
        assert np.isfinite(v) and isinstance(v, float) and v > -1e-8
    assert np.isfinite(frechet_distance(low, rank1[:10], eps=1e-6))


def test_class_equals_functional_and_merge() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(64, 5)), rng.normal(size=(48, 5)) + 0.5
    full = FID()
    full.update(a, real=True)
    full.update(b, real=False)
    h1, h2 = FID(), FID()
    h1.update(a[:30], real=True)
    h1.update(b[:10], real=False)
    h2.update(a[30:], real=True)
    h2.update(b[10:], real=False)
    h1.merge(h2)
    ref = frechet_distance(a, b)
    assert full.compute() == pytest.approx(ref, rel=1e-9)
    assert h1.compute() == pytest.approx(ref, rel=1e-9)
    full.reset()
    with pytest.raises(BadInputError):
        full.compute()


def test_gaussian_stats_and_bad_input() -> None:
    x = np.arange(12, dtype=float).reshape(6, 2)
    mu, cov = gaussian_stats(x)
    assert np.allclose(mu.numpy(), x.mean(0)) and np.allclose(cov.numpy(), np.cov(x, rowvar=False))
    with pytest.raises(BadInputError):
        frechet_distance(np.zeros(5), np.zeros(5))
    with pytest.raises(BadInputError):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))


def test_public_names_resolve() -> None:
    import aigc.metrics as m

    for name in m.__all__:
        assert getattr(m, name) is not None
    assert callable(m.frechet_distance) and callable(m.psnr) and callable(m.ssim)
    with pytest.raises(AttributeError):
        m.not_a_metric  # noqa: B018
