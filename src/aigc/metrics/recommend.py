"""Recommendation metrics: rating error (RMSE, MAE) and top-N quality (precision, recall, NDCG, MAP at K),
catalogue coverage and novelty.

Top-N conventions (written here once, used by every algorithm): ``ranked`` is an (U, K) array of item
indices per user, best first, from a *full* ranking of the catalogue with the user's training items
removed; ``relevant`` holds each user's held-out positives. Users without held-out positives are not
scored. Relevance is binary; recall divides by the number of the user's positives; NDCG's ideal DCG
and AP's normaliser use ``min(|positives|, K)`` (the usual truncated forms).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "RatingError",
    "TopN",
    "catalogue_coverage",
    "mae",
    "map_at_k",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "recall_at_k",
    "rmse",
    "topn_scores",
]


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """sqrt(mean((pred - true)^2))."""
    d = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sqrt(np.mean(d * d)))


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    """mean(|pred - true|)."""
    return float(np.mean(np.abs(np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64))))


def _hits(ranked: np.ndarray, relevant: Sequence[Iterable[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(U, K) 0/1 hit matrix and (U,) counts of positives."""
    ranked = np.asarray(ranked)
    hits = np.zeros(ranked.shape, dtype=np.float64)
    n_rel = np.zeros(ranked.shape[0], dtype=np.float64)
    for u, rel in enumerate(relevant):
        rel = {int(i) for i in rel}
        n_rel[u] = len(rel)
        if rel:
            hits[u] = [int(i) in rel for i in ranked[u]]
    return hits, n_rel


def topn_scores(ranked: np.ndarray, relevant: Sequence[Iterable[int]], k: int) -> dict[str, np.ndarray]:
    """Per-user precision, recall, NDCG and AP at ``k`` for users with positives: each (U',)."""
    hits, n_rel = _hits(np.asarray(ranked)[:, :k], relevant)
    keep = n_rel > 0
    hits, n_rel = hits[keep], n_rel[keep]
    kk = hits.shape[1]
    discount = 1.0 / np.log2(np.arange(2, kk + 2))
    dcg = hits @ discount
    ideal_n = np.minimum(n_rel, kk).astype(int)
    idcg = np.cumsum(discount)[np.maximum(ideal_n, 1) - 1]
    prec_at = np.cumsum(hits, axis=1) / np.arange(1, kk + 1)
    ap = (prec_at * hits).sum(1) / np.minimum(n_rel, kk)
    return {"precision": hits.sum(1) / k, "recall": hits.sum(1) / n_rel, "ndcg": dcg / idcg, "map": ap}


def precision_at_k(ranked: np.ndarray, relevant: Sequence[Iterable[int]], k: int) -> float:
    return float(np.mean(topn_scores(ranked, relevant, k)["precision"]))


def recall_at_k(ranked: np.ndarray, relevant: Sequence[Iterable[int]], k: int) -> float:
    return float(np.mean(topn_scores(ranked, relevant, k)["recall"]))


def ndcg_at_k(ranked: np.ndarray, relevant: Sequence[Iterable[int]], k: int) -> float:
    return float(np.mean(topn_scores(ranked, relevant, k)["ndcg"]))


def map_at_k(ranked: np.ndarray, relevant: Sequence[Iterable[int]], k: int) -> float:
    return float(np.mean(topn_scores(ranked, relevant, k)["map"]))


def catalogue_coverage(ranked: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one user's list."""
    return float(np.unique(np.asarray(ranked)).size / n_items)


def novelty(ranked: np.ndarray, item_users: np.ndarray, n_users: int) -> float:
    """Mean self-information -log2(p_i) of recommended items, p_i = (users who rated i) / n_users
    (items nobody rated count as rated by one user)."""
    pop = np.maximum(np.asarray(item_users, dtype=np.float64), 1.0) / n_users
    return float(np.mean(-np.log2(pop[np.asarray(ranked)])))


class RatingError:
    """Accumulates squared and absolute errors; ``compute()`` -> {"rmse", "mae", "n"}."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sq, self.abs, self.n = 0.0, 0.0, 0

    def update(self, pred: np.ndarray, true: np.ndarray) -> None:
        d = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
        self.sq += float(np.sum(d * d))
        self.abs += float(np.sum(np.abs(d)))
        self.n += d.size

    def merge(self, other: RatingError) -> None:
        self.sq, self.abs, self.n = self.sq + other.sq, self.abs + other.abs, self.n + other.n

    def compute(self) -> dict[str, float]:
        n = max(self.n, 1)
        return {"rmse": float(np.sqrt(self.sq / n)), "mae": self.abs / n, "n": self.n}


class TopN:
    """Accumulates per-user top-N scores; ``compute()`` -> means over scored users."""

    KEYS = ("precision", "recall", "ndcg", "map")

    def __init__(self, k: int = 10) -> None:
        self.k = k
        self.reset()

    def reset(self) -> None:
        self.sums = dict.fromkeys(self.KEYS, 0.0)
        self.users = 0

    def update(self, ranked: np.ndarray, relevant: Sequence[Iterable[int]]) -> None:
        scores = topn_scores(ranked, relevant, self.k)
        for key in self.KEYS:
            self.sums[key] += float(scores[key].sum())
        self.users += int(scores["ndcg"].size)

    def merge(self, other: TopN) -> None:
        for key in self.KEYS:
            self.sums[key] += other.sums[key]
        self.users += other.users

    def compute(self) -> dict[str, float]:
        n = max(self.users, 1)
        out = {f"{key}@{self.k}": self.sums[key] / n for key in self.KEYS}
        out["users"] = self.users
        return out
