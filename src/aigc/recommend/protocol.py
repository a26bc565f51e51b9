"""The evaluation protocol, apart from the algorithms so every algorithm is scored by the same code.

- Splits: Surprise's k-fold (shuffle once, consecutive folds of n//k (+1) ratings), a random
  hold-out, and time-ordered hold-outs (globally latest, or each user's latest ratings).
- Rating accuracy: RMSE/MAE of predictions clipped to the training scale, per fold.
- Top-N: a full ranking of the catalogue per user with that user's *training* items removed (every
  held-out item stays rankable), scored against held-out ratings >= ``threshold``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from aigc.core.errors import BadInputError
from aigc.data.ratings import Ratings
from aigc.metrics.recommend import RatingError, TopN, catalogue_coverage, novelty
from aigc.recommend.implicit import interactions

__all__ = ["evaluate_ratings", "evaluate_topn", "kfold", "random_split", "time_split", "top_n"]

Split = tuple[np.ndarray, np.ndarray]


def kfold(n: int, k: int = 5, seed: int = 0) -> list[Split]:
    """Surprise's KFold: one shuffle, fold f is the f-th consecutive block (sizes n//k, the first
    n%k folds one larger); returns (train indices, test indices) per fold."""
    if not 2 <= k <= n:
        raise BadInputError(f"--cv must be between 2 and the number of ratings ({n}), got {k}")
    idx = np.random.default_rng(seed).permutation(n)
    folds, stop = [], 0
    for f in range(k):
        start, stop = stop, stop + n // k + (1 if f < n % k else 0)
        folds.append((np.concatenate([idx[:start], idx[stop:]]), idx[start:stop]))
    return folds


def random_split(n: int, test_fraction: float = 0.2, seed: int = 0) -> Split:
    if not 0 < test_fraction < 1:
        raise BadInputError(f"test fraction must be in (0, 1), got {test_fraction}")
    idx = np.random.default_rng(seed).permutation(n)
    n_test = round(n * test_fraction)
    return idx[n_test:], idx[:n_test]


def time_split(data: Ratings, test_fraction: float = 0.2, *, per_user: bool = False) -> Split:
    """The latest ``test_fraction`` of ratings (globally, or of each user) are the test set."""
    if data.timestamps is None:
        raise BadInputError(f"{data.source}: a time-ordered split needs timestamps (a 4th column)")
    if not 0 < test_fraction < 1:
        raise BadInputError(f"test fraction must be in (0, 1), got {test_fraction}")
    if not per_user:
        order = np.argsort(data.timestamps, kind="stable")
        n_test = round(len(data) * test_fraction)
        return np.sort(order[: len(data) - n_test]), np.sort(order[len(data) - n_test:])
    order = np.lexsort((data.timestamps, data.users))  # by user, then time
    users = data.users[order]
    starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1]
    counts = np.diff(np.r_[starts, users.size])
    rank = np.arange(users.size) - np.repeat(starts, counts)
    is_test = rank >= np.repeat(counts - np.round(counts * test_fraction).astype(int), counts)
    return np.sort(order[~is_test]), np.sort(order[is_test])


def evaluate_ratings(make: Callable[[], Any], data: Ratings, folds: list[Split], *, seed: int = 0) -> dict[str, Any]:
    """Fit ``make()`` on each fold's training ratings, predict its test ratings; mean RMSE/MAE and
    fit+test seconds (the same three numbers Surprise's ``cross_validate`` reports)."""
    per_fold = []
    for train_idx, test_idx in folds:
        train, test = data.subset(train_idx), data.subset(test_idx)
        start = time.perf_counter()
        model = make().fit(train, seed=seed)
        pred = model.predict(test.users, test.items)
        seconds = time.perf_counter() - start
        err = RatingError()
        err.update(pred, test.ratings)
        per_fold.append({**err.compute(), "seconds": seconds})
    return {"rmse": float(np.mean([f["rmse"] for f in per_fold])), "mae": float(np.mean([f["mae"] for f in per_fold])),
            "seconds": float(np.mean([f["seconds"] for f in per_fold])), "folds": per_fold}


def top_n(model: Any, seen, users: np.ndarray, n: int, *, batch: int = 512) -> np.ndarray:
    """(U, n) best item indices per user from a full ranking, the user's ``seen`` (CSR row) items removed."""
    out = np.zeros((users.size, n), dtype=np.int64)
    for s in range(0, users.size, batch):
        u = users[s:s + batch]
        scores = np.array(model.scores(u), dtype=np.float64)
        rows = seen[u].tocoo()
        scores[rows.row, rows.col] = -np.inf
        part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        order = np.argsort(-np.take_along_axis(scores, part, 1), axis=1, kind="stable")
        out[s:s + batch] = np.take_along_axis(part, order, 1)
    return out


def evaluate_topn(model: Any, train: Ratings, test: Ratings, *, k: int = 10, threshold: float = 4.0) -> dict[str, Any]:
    """Precision/recall/NDCG/MAP@k over users with a held-out rating >= ``threshold``, plus catalogue
    coverage and novelty of their lists. ``model`` must be fitted on ``train``."""
    seen = interactions(train)
    pos = test.ratings >= threshold
    users = np.unique(test.users[pos])
    if users.size == 0:
        raise BadInputError(f"no held-out rating >= {threshold}; lower the threshold")
    relevant: list[list[int]] = [[] for _ in users]
    where = {int(u): n for n, u in enumerate(users)}
    for u, i in zip(test.users[pos], test.items[pos]):
        relevant[where[int(u)]].append(int(i))
    ranked = top_n(model, seen, users, k)
    metric = TopN(k)
    metric.update(ranked, relevant)
    item_users = np.asarray(seen.sum(0)).ravel()
    return {**metric.compute(), "coverage": catalogue_coverage(ranked, train.n_items),
            "novelty": novelty(ranked, item_users, train.n_users)}
