"""Inference for recommenders: ``recommend`` (with reasons), ``similar``, ``predict``, ``add_items``
(new items with only a description, for content and hybrid models) and ``save`` (JSON with the recipe).

A user the model has never seen gets a labelled fallback: items like the ones they name (``liked``)
when the model has text features, else the most popular items.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc.core.config import config_from_dict
from aigc.core.errors import BadInputError
from aigc.core.modeldir import WEIGHTS_NAME, load_weights, model_id, read_config
from aigc.core.pipeline import Pipeline

__all__ = ["MAX_N", "RecommendPipeline"]

MAX_N = 10_000


class RecommendPipeline(Pipeline):
    """A fitted recommender loaded from its model directory."""

    task = "recommend"

    def __init__(self, model: Any, config: dict, ids: dict, seen: dict[str, np.ndarray], device: torch.device,
                 model_id: str) -> None:
        super().__init__(model, {}, config, device, model_id)
        self.model = model
        self.user_ids: list[str] = list(ids["user_ids"])
        self.item_ids: list[str] = list(ids["item_ids"])
        self.items: dict[str, dict] = dict(ids.get("items", {}))
        self._user_index = {u: n for n, u in enumerate(self.user_ids)}
        self._item_index = {i: n for n, i in enumerate(self.item_ids)}
        import scipy.sparse as sp

        self.seen = sp.csr_matrix((seen["ratings"], (seen["users"], seen["items"])),
                                  shape=(len(self.user_ids), len(self.item_ids)))
        self.popularity = np.bincount(seen["items"], minlength=len(self.item_ids)).astype(np.float64)

    @classmethod
    def from_dir(cls, path: str | os.PathLike, *, device: torch.device) -> RecommendPipeline:
        from aigc.recommend.algorithms import algorithm_class
        from aigc.recommend.train import IDS_NAME

        path = Path(path)
        config = read_config(path)
        algo = algorithm_class(config["architecture"])
        model = algo(config_from_dict(algo.config_class, config.get("model", {})))
        weights = {k: v.numpy() for k, v in load_weights(path / WEIGHTS_NAME).items()}
        model.load_meta(config.get("state_meta", {}))
        model.load_state({k[6:]: v for k, v in weights.items() if k.startswith("model.")})
        try:
            ids = json.loads((path / IDS_NAME).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BadInputError(f"{path / IDS_NAME}: missing or not valid JSON ({exc})") from exc
        seen = {k[5:]: v for k, v in weights.items() if k.startswith("seen.")}
        return cls(model, config, ids, seen, device, model_id(path))

    # ids <-> indices -------------------------------------------------------------------------
    def user_index(self, user: str | int) -> int | None:
        return self._user_index.get(str(user))

    def item_index(self, item: str | int) -> int:
        idx = self._item_index.get(str(item))
        if idx is None:
            raise BadInputError(f"unknown item {item!r}; the model knows {len(self.item_ids)} items "
                                f"(e.g. {', '.join(self.item_ids[:3])})")
        return idx

    def title(self, index: int) -> str:
        return str(self.items.get(self.item_ids[index], {}).get("title") or self.item_ids[index])

    # inference -------------------------------------------------------------------------------
    def recommend(self, user: str | int, n: int = 10, *, liked: Sequence[str] = (),
                  exclude_seen: bool = True) -> dict[str, Any]:
        """The ``n`` best items for ``user`` with a reason each. A new user gets a labelled
        fallback: content similar to ``liked`` items (content/hybrid models) or popularity."""
        n = _check_n(n)
        u = self.user_index(user)
        if u is None:
            return self._fallback(str(user), n, [self.item_index(i) for i in liked])
        row = self.seen[u]
        scores = np.asarray(self.model.scores(np.array([u])), dtype=np.float64)[0]
        if exclude_seen:
            scores[row.indices] = -np.inf
        top = _top(scores, n)
        reasons = self.model.explain(u, top, row.indices, row.data)
        return {"user": str(user), "fallback": None,
                "items": [self._entry(i, scores[i], r) for i, r in zip(top, reasons)]}

    def _fallback(self, user: str, n: int, liked: list[int]) -> dict[str, Any]:
        if liked and hasattr(self.model, "text"):
            from aigc.recommend.content import ContentTFIDF

            x = self.model.X if isinstance(self.model, ContentTFIDF) else self.model.text.transform(
                [self._text(i) for i in range(len(self.item_ids))])
            prof = np.asarray(x[liked].sum(0))
            scores = np.asarray(x @ (prof / max(np.linalg.norm(prof), 1e-12)).T).ravel()
            scores[liked] = -np.inf
            top = _top(scores, n)
            return {"user": user, "fallback": "content (new user: items like the ones you named)",
                    "items": [self._entry(i, scores[i], {"reason": "its description is like {0}", "because": liked[:1]})
                              for i in top]}
        top = _top(self.popularity.copy(), n)
        return {"user": user, "fallback": "popularity (new user: the most-rated items)",
                "items": [self._entry(i, self.popularity[i], {"reason": f"popular: rated by {int(self.popularity[i])} users",
                                                               "because": []}) for i in top]}

    def _text(self, i: int) -> str:
        info = self.items.get(self.item_ids[i], {})
        return " ".join([str(info.get("title", "")), " ".join(info.get("genres", [])), str(info.get("text", ""))])

    def _entry(self, i: int, score: float, reason: dict) -> dict[str, Any]:
        text = reason["reason"].format(*[self.title(j) for j in reason["because"]], *[""] * 2)
        return {"item": self.item_ids[i], "title": self.title(i), "score": round(float(score), 6),
                "reason": text.replace(" and ,", ",").strip()}

    def similar(self, item: str | int, n: int = 10) -> dict[str, Any]:
        """The ``n`` items most like ``item`` (cosine of the model's item vectors or similarities)."""
        n = _check_n(n)
        i = self.item_index(item)
        vec = self.model.item_vectors()
        if vec is None:
            raise BadInputError(f"a {self.architecture} model has no item representation; `similar` needs knn "
                                f"(item-based), svd, svdpp, als, bpr, ease, content or hybrid")
        vec = np.asarray(vec, dtype=np.float64)
        if vec.shape[0] == vec.shape[1] and self.architecture in ("knn", "ease"):
            scores = vec[i].copy()
        else:
            norm = vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
            scores = norm @ norm[i]
        scores[i] = -np.inf
        top = _top(scores, n)
        return {"item": str(item), "title": self.title(i),
                "similar": [{"item": self.item_ids[j], "title": self.title(j), "similarity": round(float(scores[j]), 6)}
                            for j in top]}

    def predict(self, user: str | int, item: str | int) -> float:
        """Predicted rating (rating models only)."""
        if not self.model.explicit:
            raise BadInputError(f"{self.architecture} ranks items but does not predict ratings; use svd, "
                                f"svdpp, baseline, knn or hybrid")
        u = self.user_index(user)
        return float(self.model.predict(np.array([-1 if u is None else u]), np.array([self.item_index(item)]))[0])

    def add_items(self, items: Mapping[str, str | Mapping[str, Any]]) -> list[str]:
        """Add new items, id -> description (or {"title", "genres", "text"}); content and hybrid
        models place them by their text at once. Returns the ids added."""
        if not hasattr(self.model, "add_items"):
            raise BadInputError(f"a {self.architecture} model cannot place items by description; train "
                                f"--algo hybrid or --algo content")
        infos = {str(k): (dict(v) if isinstance(v, Mapping) else {"title": str(k), "genres": [], "text": str(v)})
                 for k, v in items.items()}
        dup = [k for k in infos if k in self._item_index]
        if dup:
            raise BadInputError(f"item id(s) {dup} already exist; pick new ids")
        start = len(self.item_ids)
        for k, info in infos.items():
            self.items[k] = info
            self._item_index[k] = len(self.item_ids)
            self.item_ids.append(k)
        self.model.add_items([self._text(i) for i in range(start, len(self.item_ids))])
        import scipy.sparse as sp

        self.seen = sp.hstack([self.seen, sp.csr_matrix((self.seen.shape[0], len(infos)))]).tocsr()
        self.popularity = np.r_[self.popularity, np.zeros(len(infos))]
        return list(infos)

    def save(self, result: Mapping[str, Any], path: str | os.PathLike, *, seed: int = 0, **params: Any) -> Path:
        """Write ``result`` as JSON with the recipe (model id, task, algorithm, parameters)."""
        from aigc.core.artifacts import save_json

        return save_json(path, dict(result), self.recipe(seed=seed, **params))


def _check_n(n: int) -> int:
    if not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_N:
        raise BadInputError(f"n must be a whole number from 1 to {MAX_N}, got {n!r}")
    return int(n)


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    finite = np.flatnonzero(np.isfinite(scores))
    n = min(n, finite.size)
    if n == 0:
        return finite
    part = finite[np.argpartition(-scores[finite], n - 1)[:n]]
    return part[np.argsort(-scores[part], kind="stable")]
