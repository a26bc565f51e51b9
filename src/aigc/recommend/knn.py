"""Neighbourhood models: user- or item-based kNN with cosine, Pearson, MSD or baseline-centred Pearson
similarity (shrunk by support), and means- or baseline-centred predictions (Koren 2010, sec. 2.2;
Surprise's KNNBasic / KNNWithMeans / KNNBaseline). Similarities are sparse-matrix products, not
loops over ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from aigc.core.errors import BadInputError
from aigc.data.ratings import Ratings
from aigc.recommend.base import Recommender, baseline_als, bias_terms

__all__ = ["KNN", "KNNConfig", "similarity"]

SIMILARITIES = ("cosine", "pearson", "msd", "pearson_baseline")


def _dense(m) -> np.ndarray:
    return np.asarray(m.toarray() if sp.issparse(m) else m, dtype=np.float64)


def similarity(values: sp.csr_matrix, kind: str, *, min_support: int = 1, shrinkage: float = 0.0) -> np.ndarray:
    """(X, X) similarity of the rows of ``values`` over their common columns, as Surprise defines
    them (for ``pearson_baseline`` pass residuals r - b). Pairs with support < min_support get 0."""
    if kind not in SIMILARITIES:
        raise BadInputError(f"unknown similarity {kind!r}; choose one of {SIMILARITIES}")
    v = values.tocsr().astype(np.float64)
    m = v.copy()
    m.data[:] = 1.0
    sq = v.multiply(v).tocsr()
    freq = _dense(m @ m.T)
    prods = _dense(v @ v.T)
    sqi = _dense(sq @ m.T)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind in ("cosine", "pearson_baseline"):
            sim = prods / np.sqrt(sqi * sqi.T)
        elif kind == "msd":
            sim = 1.0 / ((sqi + sqi.T - 2 * prods) / freq + 1.0)
        else:
            si = _dense(v @ m.T)
            num = freq * prods - si * si.T
            sim = num / np.sqrt((freq * sqi - si**2) * (freq * sqi.T - si.T**2))
    support = max(min_support, 2) if kind == "pearson_baseline" else min_support
    sim[(freq < support) | ~np.isfinite(sim)] = 0.0
    if shrinkage > 0:
        sim *= np.maximum(freq - 1, 0) / (np.maximum(freq - 1, 0) + shrinkage)
    np.fill_diagonal(sim, 1.0)
    return sim


@dataclass(kw_only=True)
class KNNConfig:
    k: int = 40
    min_k: int = 1
    similarity: str = "pearson_baseline"
    user_based: bool = False
    centring: str = "baseline"  # "none" (KNNBasic), "mean" (KNNWithMeans), "baseline" (KNNBaseline)
    shrinkage: float = 100.0  # pearson_baseline only, as in Surprise
    min_support: int = 1

    def __post_init__(self) -> None:
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {self.similarity!r}")
        if self.centring not in ("none", "mean", "baseline"):
            raise ValueError(f"centring must be none, mean or baseline, got {self.centring!r}")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")


class KNN(Recommender):
    """Neighbourhood model; with ``user_based=False`` the neighbours of item i are the items the user
    rated that are most similar to i."""

    name = "knn"
    config_class = KNNConfig

    def _fit(self, train: Ratings, seed: int) -> None:
        c = self.config
        self.mu, self.bu, self.bi = baseline_als(train.users, train.items, train.ratings, self.n_users, self.n_items)
        x, y = (train.users, train.items) if c.user_based else (train.items, train.users)
        nx, ny = (self.n_users, self.n_items) if c.user_based else (self.n_items, self.n_users)
        values = train.ratings
        if c.similarity == "pearson_baseline":
            values = train.ratings - bias_terms(self.mu, self.bu, self.bi, train.users, train.items)
        shrink = c.shrinkage if c.similarity == "pearson_baseline" else 0.0
        self.sim = similarity(sp.csr_matrix((values, (x, y)), shape=(nx, ny)), c.similarity,
                              min_support=c.min_support, shrinkage=shrink)
        means = np.bincount(x, train.ratings, minlength=nx) / np.maximum(np.bincount(x, minlength=nx), 1)
        self.x_mean = np.where(np.bincount(x, minlength=nx) > 0, means, self.mu)
        # the rating matrix with y (the side that is NOT compared) as rows: neighbours of (x, y) = row y
        self.by_y = sp.csr_matrix((train.ratings, (y, x)), shape=(ny, nx))

    def _offsets(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The centring term of x's rating of y: 0, mean of x, or baseline b_xy."""
        c = self.config
        if c.centring == "none":
            return np.zeros(x.size)
        if c.centring == "mean":
            return self.x_mean[x]
        u, i = (x, y) if c.user_based else (y, x)
        return bias_terms(self.mu, self.bu, self.bi, u, i)

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        c = self.config
        x, y = (users, items) if c.user_based else (items, users)
        nx, ny = self.sim.shape[0], self.by_y.shape[0]
        # unknown ids (and too few neighbours without centring): the baseline for KNNBaseline, the
        # global mean otherwise, as Surprise does
        est = (bias_terms(self.mu, self.bu, self.bi, users, items) if c.centring == "baseline"
               else np.full(users.size, self.mu))
        known = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
        order = np.argsort(np.where(known, y, -1), kind="stable")
        order = order[known[order]]
        ys, starts = np.unique(y[order], return_index=True)
        for yy, q in zip(ys, np.split(order, starts[1:])):
            est[q] = self._predict_group(int(yy), x[q], est[q])
        return est

    def _predict_group(self, y: int, xq: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        """Predictions for the x's ``xq`` of one y from the k most similar x' that rated y."""
        c = self.config
        row = self.by_y[y]
        nb, r = row.indices, row.data
        if nb.size == 0:
            return fallback
        sims = self.sim[np.ix_(xq, nb)]  # (Q, n_nb)
        sims = np.where(sims > 0, sims, 0.0)
        if nb.size > c.k:
            cut = np.argpartition(-sims, c.k - 1, axis=1)[:, c.k:]
            np.put_along_axis(sims, cut, 0.0, axis=1)
        resid = r - self._offsets(nb, np.full(nb.size, y))
        ssum = sims.sum(1)
        actual = (sims > 0).sum(1)
        base = self._offsets(xq, np.full(xq.size, y))
        with np.errstate(invalid="ignore", divide="ignore"):
            dev = np.where(ssum > 0, (sims @ resid) / ssum, 0.0)
        if c.centring == "none":
            out = np.where(ssum > 0, dev, fallback)
        else:
            out = base + dev
        return np.where(actual >= c.min_k, out, base if c.centring != "none" else fallback)

    def scores(self, users: np.ndarray) -> np.ndarray:
        """Neighbourhood scores for ranking (item-based: sum over the user's items of their cosine
        similarity on the 0/1 interaction matrix, k nearest kept per item; user-based: the same with
        the k nearest users). The rating similarity is not used: with few common raters it is 1
        for pairs that share a single rater, which is noise in a ranking."""
        users = np.asarray(users, dtype=np.int64)
        seen = self.by_y.copy()
        seen.data[:] = 1.0
        seen = seen.T.tocsr() if self.config.user_based else seen.tocsr()  # (n_users, n_items)
        if getattr(self, "_rank_sim", None) is None:
            self._rank_sim = self._binary_cosine(seen if self.config.user_based else seen.T.tocsr())
        if self.config.user_based:
            return np.asarray((sp.csr_matrix(self._rank_sim[users]) @ seen).toarray())
        return np.asarray(seen[users] @ self._rank_sim.T)

    def _binary_cosine(self, m: sp.csr_matrix) -> np.ndarray:
        """(X, X) cosine of 0/1 rows, diagonal 0, only each row's k largest kept."""
        norms = np.sqrt(np.asarray(m.sum(1)).ravel())
        sims = _dense(m @ m.T) / np.maximum(np.outer(norms, norms), 1e-12)
        np.fill_diagonal(sims, 0.0)
        k = self.config.k
        if sims.shape[0] > k:
            cut = np.argpartition(-sims, k - 1, axis=1)[:, k:]
            np.put_along_axis(sims, cut, 0.0, axis=1)
        return sims

    def item_vectors(self) -> np.ndarray | None:
        return None if self.config.user_based else self.sim

    def explain(self, user: int, items: np.ndarray, rated: np.ndarray, values: np.ndarray) -> list[dict]:
        if self.config.user_based or rated.size == 0:
            return [{"reason": "liked by users with similar ratings", "because": []} for _ in items]
        out = []
        for i in items:
            sims = self.sim[i, rated] * (values >= np.median(values))
            best = rated[np.argsort(-sims)[:2]]
            out.append({"reason": "similar to {0} and {1}, which you rated highly", "because": [int(b) for b in best]})
        return out

    def _state(self) -> dict[str, np.ndarray]:
        coo = self.by_y.tocoo()
        return {"bu": self.bu, "bi": self.bi, "sim": self.sim.astype(np.float32), "x_mean": self.x_mean,
                "by_y_row": coo.row.astype(np.int64), "by_y_col": coo.col.astype(np.int64), "by_y_val": coo.data}

    def _load_state(self, a: dict[str, np.ndarray]) -> None:
        self.bu, self.bi, self.sim, self.x_mean = a["bu"], a["bi"], a["sim"].astype(np.float64), a["x_mean"]
        ny = self.n_users if not self.config.user_based else self.n_items
        self.by_y = sp.csr_matrix((a["by_y_val"], (a["by_y_row"], a["by_y_col"])), shape=(ny, self.sim.shape[0]))
