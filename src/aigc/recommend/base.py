"""The recommender interface every algorithm follows (after Surprise / implicit):
``fit(train)``, ``predict(users, items)`` -> ratings, ``scores(users)`` -> (U, n_items) ranking scores,
``state()`` / ``load_state(arrays)`` for the model directory (safetensors), and ``explain``.

Baselines (global mean + user and item biases) are fitted by alternating least squares exactly as
Surprise's ``baseline_als`` (Koren 2010, sec. 2.1): ``reg_i = 10``, ``reg_u = 15``, 10 epochs.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from aigc.core.errors import BadInputError
from aigc.data.ratings import Ratings

__all__ = ["Baseline", "BaselineConfig", "Recommender", "baseline_als", "rated_by_user"]


def baseline_als(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_users: int, n_items: int,
                 *, reg_u: float = 15.0, reg_i: float = 10.0, epochs: int = 10) -> tuple[float, np.ndarray, np.ndarray]:
    """(mu, bu (n_users,), bi (n_items,)): items then users each epoch, like Surprise."""
    mu = float(ratings.mean()) if ratings.size else 0.0
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    n_i = np.bincount(items, minlength=n_items)
    n_u = np.bincount(users, minlength=n_users)
    for _ in range(epochs):
        bi = np.bincount(items, ratings - mu - bu[users], minlength=n_items) / (reg_i + n_i)
        bu = np.bincount(users, ratings - mu - bi[items], minlength=n_users) / (reg_u + n_u)
    return mu, bu, bi


def rated_by_user(data: Ratings):
    """(n_users, n_items) CSR with 1 where the user rated the item."""
    import scipy.sparse as sp

    ones = np.ones(len(data), dtype=np.float32)
    m = sp.csr_matrix((ones, (data.users, data.items)), shape=(data.n_users, data.n_items))
    m.sum_duplicates()
    m.data[:] = 1
    return m


class Recommender(abc.ABC):
    """Base class. Subclasses set ``name``, ``config_class`` and implement ``_fit`` and ``_predict``
    (rating models) or ``scores`` (ranking models). Indices are the training data's indices."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    explicit: ClassVar[bool] = True  # predicts ratings (False: ranking only)

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.config_class()
        self.n_users = self.n_items = 0
        self.mu = 0.0
        self.scale = (-np.inf, np.inf)

    def fit(self, train: Ratings, *, seed: int = 0) -> Recommender:
        self.n_users, self.n_items = train.n_users, train.n_items
        self.mu = float(train.ratings.mean())
        self.scale = (float(train.ratings.min()), float(train.ratings.max()))
        self._fit(train, seed)
        return self

    @abc.abstractmethod
    def _fit(self, train: Ratings, seed: int) -> None:
        """Fit the algorithm's parameters on ``train`` (indices already mapped)."""

    def predict(self, users: np.ndarray, items: np.ndarray, *, clip: bool = True) -> np.ndarray:
        """(N,) predicted ratings of (user, item) index pairs, clipped to the training scale. An index
        outside the training range (a new user or item) gets the parts of the model that are known."""
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        est = self._predict(users, items)
        return np.clip(est, *self.scale) if clip else est

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise BadInputError(f"{self.name} ranks items but does not predict ratings; use it for top-N lists "
                            "(aigc recommend) or train a rating algorithm (baseline, knn, svd, svdpp)")

    def scores(self, users: np.ndarray) -> np.ndarray:
        """(U, n_items) scores for ranking (higher = better); default: predicted ratings."""
        users = np.asarray(users, dtype=np.int64)
        uu = np.repeat(users, self.n_items)
        ii = np.tile(np.arange(self.n_items), users.size)
        return self.predict(uu, ii, clip=False).reshape(users.size, self.n_items)

    def item_vectors(self) -> np.ndarray | None:
        """(n_items, d) item representation for ``similar`` (factors or similarity rows), or None."""
        return None

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that, with the config, rebuild the fitted model (saved as safetensors)."""
        return {"meta": np.array([self.n_users, self.n_items], dtype=np.int64),
                "mu_scale": np.array([self.mu, *self.scale], dtype=np.float64), **self._state()}

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def load_state(self, arrays: dict[str, np.ndarray]) -> Recommender:
        self.n_users, self.n_items = (int(v) for v in arrays["meta"])
        self.mu, lo, hi = (float(v) for v in arrays["mu_scale"])
        self.scale = (lo, hi)
        self._load_state(arrays)
        return self

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        pass

    def meta(self) -> dict[str, Any]:
        """JSON-safe state that is not an array (e.g. a vocabulary), saved in config.json."""
        return {}

    def load_meta(self, meta: dict[str, Any]) -> None:
        pass

    def explain(self, user: int, items: np.ndarray, rated: np.ndarray, values: np.ndarray) -> list[dict]:
        """One reason per recommended item: ``{"reason": text, "because": [item indices]}``.
        ``rated``/``values``: the user's training items and ratings. Text may hold ``{0}``, ``{1}``
        placeholders for the titles of the ``because`` items."""
        return [{"reason": "predicted from the model", "because": []} for _ in items]


def _known(idx: np.ndarray, n: int) -> np.ndarray:
    return (idx >= 0) & (idx < n)


def bias_terms(mu: float, bu: np.ndarray, bi: np.ndarray, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """mu + bu[u] + bi[i], dropping the bias of an unknown user or item (Surprise's convention)."""
    ku, ki = _known(users, bu.size), _known(items, bi.size)
    return mu + np.where(ku, bu[np.where(ku, users, 0)], 0.0) + np.where(ki, bi[np.where(ki, items, 0)], 0.0)


@dataclass(kw_only=True)
class BaselineConfig:
    reg_u: float = 15.0
    reg_i: float = 10.0
    epochs: int = 10


class Baseline(Recommender):
    """r_ui = mu + b_u + b_i (biases by ALS)."""

    name = "baseline"
    config_class = BaselineConfig

    def _fit(self, train: Ratings, seed: int) -> None:
        c = self.config
        self.mu, self.bu, self.bi = baseline_als(train.users, train.items, train.ratings, self.n_users,
                                                 self.n_items, reg_u=c.reg_u, reg_i=c.reg_i, epochs=c.epochs)

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return bias_terms(self.mu, self.bu, self.bi, users, items)

    def _state(self) -> dict[str, np.ndarray]:
        return {"bu": self.bu, "bi": self.bi}

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.bu, self.bi = arrays["bu"], arrays["bi"]

    def explain(self, user: int, items: np.ndarray, rated: np.ndarray, values: np.ndarray) -> list[dict]:
        return [{"reason": f"rated {self.bi[i]:+.2f} above the average item by everyone", "because": []}
                for i in items]
