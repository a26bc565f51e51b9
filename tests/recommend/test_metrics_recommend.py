import math

import numpy as np
import pytest

from aigc.metrics.recommend import (
    RatingError,
    TopN,
    catalogue_coverage,
    mae,
    map_at_k,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
    rmse,
    topn_scores,
)


def test_rmse_mae_against_numpy_and_merge():
    rng = np.random.default_rng(0)
    pred, true = rng.uniform(1, 5, 101), rng.uniform(1, 5, 101)
    assert rmse(pred, true) == pytest.approx(np.sqrt(np.mean((pred - true) ** 2)))
    assert mae(pred, true) == pytest.approx(np.mean(np.abs(pred - true)))
    full, a, b = RatingError(), RatingError(), RatingError()
    full.update(pred, true)
    a.update(pred[:40], true[:40])
    b.update(pred[40:], true[40:])
    a.merge(b)
    assert a.compute()["rmse"] == pytest.approx(full.compute()["rmse"]) and a.compute()["n"] == 101
    assert a.compute()["mae"] == pytest.approx(mae(pred, true))


def test_topn_by_hand():
    # user 0: list [5, 1, 7], positives {1, 9}: hit at rank 2 only
    # user 1: list [2, 3, 4], positives {2, 4, 8, 9}: hits at ranks 1 and 3
    # user 2: no positives -> not scored
    ranked = np.array([[5, 1, 7], [2, 3, 4], [0, 1, 2]])
    relevant = [{1, 9}, {2, 4, 8, 9}, set()]
    k = 3
    assert precision_at_k(ranked, relevant, k) == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert recall_at_k(ranked, relevant, k) == pytest.approx((1 / 2 + 2 / 4) / 2)
    d = [1, 1 / math.log2(3), 1 / math.log2(4)]
    ndcg0 = d[1] / (d[0] + d[1])  # ideal: 2 positives in the first 2 places
    ndcg1 = (d[0] + d[2]) / (d[0] + d[1] + d[2])  # ideal: min(4, 3) = 3 places
    assert ndcg_at_k(ranked, relevant, k) == pytest.approx((ndcg0 + ndcg1) / 2)
    ap0 = (1 / 2) / 2  # precision at the hit (rank 2) / min(2, 3)
    ap1 = (1 / 1 + 2 / 3) / 3
    assert map_at_k(ranked, relevant, k) == pytest.approx((ap0 + ap1) / 2)
    assert topn_scores(ranked, relevant, k)["ndcg"].shape == (2,)
    # k smaller than the list: only the first k count
    assert precision_at_k(ranked, relevant, 1) == pytest.approx(0.5)


def test_coverage_novelty_and_class_merge():
    ranked = np.array([[0, 1], [1, 2]])
    assert catalogue_coverage(ranked, 10) == pytest.approx(0.3)
    item_users = np.array([8, 4, 2, 0])
    expected = np.mean([-math.log2(8 / 8), -math.log2(4 / 8), -math.log2(4 / 8), -math.log2(2 / 8)])
    assert novelty(ranked, item_users, 8) == pytest.approx(expected)
    rng = np.random.default_rng(1)
    ranked = rng.integers(0, 30, (20, 10))
    relevant = [set(rng.integers(0, 30, rng.integers(0, 5)).tolist()) for _ in range(20)]
    full, a, b = TopN(5), TopN(5), TopN(5)
    full.update(ranked, relevant)
    a.update(ranked[:7], relevant[:7])
    b.update(ranked[7:], relevant[7:])
    a.merge(b)
    for key, value in full.compute().items():
        assert a.compute()[key] == pytest.approx(value)
    assert full.compute()["ndcg@5"] == pytest.approx(ndcg_at_k(ranked, relevant, 5))
