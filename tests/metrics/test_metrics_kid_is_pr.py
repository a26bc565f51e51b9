"""KID, Inception Score, precision/recall and class coverage against references / closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aigc.core.errors import BadInputError
from aigc.metrics import (KID, ClassCoverage, ConditionalAccuracy, InceptionScore, PrecisionRecall,
                          class_coverage, conditional_accuracy, inception_score, kernel_inception_distance,
                          precision_recall)


def _naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 by explicit loops over pairs (independent reference)."""
    d, m = x.shape[1], x.shape[0]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_naive_reference_single_full_subset() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(12, 4)), rng.normal(size=(12, 4)) + 0.7
    mean, std = kernel_inception_distance(a, b, subsets=1, subset_size=12)
    assert mean == pytest.approx(_naive_mmd2(a, b), rel=1e-10) and std == 0.0


def test_kid_unbiased_on_identical_distribution() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    mean, std = kernel_inception_distance(a, b, subsets=50, subset_size=100, generator=torch.Generator().manual_seed(0))
    assert abs(mean) < 2 * std + 1e-3
    far, _ = kernel_inception_distance(a, b + 1.0, subsets=10, subset_size=100)
    assert far > 10 * std


def test_kid_class_equals_functional_and_merge() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(60, 3)), rng.normal(size=(50, 3))
    ref = kernel_inception_distance(a, b, subsets=5, subset_size=20, generator=torch.Generator().manual_seed(7))
    full, h1, h2 = KID(5, 20, seed=7), KID(5, 20, seed=7), KID(5, 20, seed=7)
    full.update(a, real=True)
    full.update(b, real=False)
    h1.update(a[:25], real=True)
    h1.update(b[:20], real=False)
    h2.update(a[25:], real=True)
    h2.update(b[20:], real=False)
    h1.merge(h2)
    assert full.compute() == pytest.approx(ref) and h1.compute() == pytest.approx(ref)


def test_inception_score_closed_forms() -> None:
    k = 10
    confident = torch.eye(k).repeat(5, 1)  # every class equally often, fully confident: IS = K
    assert inception_score(confident, splits=1)[0] == pytest.approx(k)
    same = torch.full((20, k), 1.0 / k)  # identical predictions: IS = 1
    assert inception_score(same, splits=2) == pytest.approx((1.0, 0.0))
    p = torch.softmax(torch.randn(30, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64), 1)
    marg = p.mean(0)
    ref = math.exp(float((p * (p.log() - marg.log())).sum(1).mean()))
    assert inception_score(p, splits=1)[0] == pytest.approx(ref, rel=1e-12)
    with pytest.raises(BadInputError):
        inception_score(torch.randn(8, 3), splits=1)


def test_inception_score_class_and_merge() -> None:
    p = torch.softmax(torch.randn(40, 5, generator=torch.Generator().manual_seed(1)), 1)
    ref = inception_score(p, splits=4)
    h1, h2 = InceptionScore(4), InceptionScore(4)
    h1.update(p[:17])
    h2.update(p[17:])
    h1.merge(h2)
    assert h1.compute() == pytest.approx(ref)


def _naive_pr(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
        return np.sort(d, axis=1)[:, k]

    def frac(man, rad, q):
        d = np.linalg.norm(q[:, None] - man[None], axis=2)
        return float((d <= rad[None]).any(1).mean())

    return frac(real, radii(real), fake), frac(fake, radii(fake), real)


def test_precision_recall_reference_and_class() -> None:
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(50, 3)), rng.normal(size=(40, 3)) * 0.5 + 0.8
    ref = _naive_pr(real, fake, 3)
    assert precision_recall(real, fake, k=3) == pytest.approx(ref)
    assert precision_recall(real, real, k=3) == (1.0, 1.0)
    h1, h2 = PrecisionRecall(3), PrecisionRecall(3)
    h1.update(real[:20], real=True)
    h1.update(fake[:15], real=False)
    h2.update(real[20:], real=True)
    h2.update(fake[15:], real=False)
    h1.merge(h2)
    assert h1.compute() == pytest.approx(ref)


def test_class_coverage_and_conditional_accuracy() -> None:
    out = class_coverage([0, 0, 0, 0], num_classes=4)
    assert out["modes_covered"] == 1 and out["kl_to_uniform"] == pytest.approx(math.log(4))
    balanced = class_coverage(torch.arange(8) % 4, num_classes=4)
    assert balanced["histogram"] == [2, 2, 2, 2] and balanced["kl_to_uniform"] == pytest.approx(0.0)
    labels = torch.tensor([0, 1, 1, 3, 3, 3])
    c1, c2 = ClassCoverage(4), ClassCoverage(4)
    c1.update(labels[:2])
    c2.update(torch.nn.functional.one_hot(labels[2:], 4).float())  # scores: argmax taken
    c1.merge(c2)
    assert c1.compute() == class_coverage(labels, 4)
    pred, req = torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2])
    assert conditional_accuracy(pred, req) == 0.75
    a1, a2 = ConditionalAccuracy(), ConditionalAccuracy()
    a1.update(pred[:1], req[:1])
    a2.update(pred[1:], req[1:])
    a1.merge(a2)
    assert a1.compute() == 0.75
    with pytest.raises(BadInputError):
        class_coverage([5], num_classes=4)
