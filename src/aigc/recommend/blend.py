"""A linear blend of rating models (the Netflix-prize recipe, Koren 2009; Töscher & Jahrer 2009):
members are fitted on 90% of the training ratings, blend weights (with an intercept) by least
squares on the other 10%, then the members are refitted on all training ratings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aigc.core.config import config_to_dict
from aigc.data.ratings import Ratings
from aigc.recommend.base import Recommender

__all__ = ["Blend", "BlendConfig"]


def _default_members() -> list[dict[str, Any]]:
    return [{"algo": "knn", "params": {}}, {"algo": "svdpp", "params": {}}, {"algo": "svd", "params": {}}]


@dataclass(kw_only=True)
class BlendConfig:
    members: list[dict[str, Any]] = field(default_factory=_default_members)  # [{"algo", "params"}]
    holdout: float = 0.1
    ridge: float = 1e-3


class Blend(Recommender):
    """w_0 + sum_m w_m r_m(u, i) over member rating models."""

    name = "blend"
    config_class = BlendConfig

    def _members(self) -> list[Recommender]:
        from aigc.recommend.algorithms import make_algorithm

        return [make_algorithm(m["algo"], m.get("params", {})) for m in self.config.members]

    def _fit(self, train: Ratings, seed: int) -> None:
        rng = np.random.default_rng(seed)
        idx = rng.permutation(len(train))
        n_hold = max(1, int(len(train) * self.config.holdout))
        part, hold = train.subset(idx[n_hold:]), train.subset(idx[:n_hold])
        preds = np.stack([m.fit(part, seed=seed).predict(hold.users, hold.items) for m in self._members()], 1)
        design = np.c_[np.ones(n_hold), preds]
        reg = self.config.ridge * n_hold * np.eye(design.shape[1])
        reg[0, 0] = 0.0
        self.weights = np.linalg.solve(design.T @ design + reg, design.T @ hold.ratings)
        self.models = [m.fit(train, seed=seed) for m in self._members()]

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        preds = np.stack([m.predict(users, items) for m in self.models], 1)
        return self.weights[0] + preds @ self.weights[1:]

    def item_vectors(self) -> np.ndarray | None:
        return next((v for m in self.models for v in [m.item_vectors()] if v is not None), None)

    def explain(self, user: int, items: np.ndarray, rated: np.ndarray, values: np.ndarray) -> list[dict]:
        return self.models[int(np.argmax(np.abs(self.weights[1:])))].explain(user, items, rated, values)

    def _state(self) -> dict[str, np.ndarray]:
        out = {"weights": self.weights}
        for n, m in enumerate(self.models):
            out.update({f"m{n}.{k}": v for k, v in m.state().items()})
        return out

    def _load_state(self, a: dict[str, np.ndarray]) -> None:
        self.weights = a["weights"]
        self.models = self._members()
        for n, m in enumerate(self.models):
            m.load_meta(self._meta.get(str(n), {}) if hasattr(self, "_meta") else {})
            m.load_state({k[len(f"m{n}."):]: v for k, v in a.items() if k.startswith(f"m{n}.")})

    def meta(self) -> dict[str, Any]:
        return {str(n): m.meta() for n, m in enumerate(self.models)} | {
            "member_configs": [config_to_dict(m.config) for m in self.models]}

    def load_meta(self, meta: dict[str, Any]) -> None:
        self._meta = meta
