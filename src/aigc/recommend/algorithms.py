"""The recommender registry: algorithm name -> ``"module:Class"`` (imported lazily)."""

from __future__ import annotations

from typing import Any

from aigc.core.config import config_from_dict
from aigc.core.errors import BadInputError
from aigc.core.registry import resolve

__all__ = ["ALGORITHMS", "algorithm_class", "make_algorithm"]

ALGORITHMS: dict[str, str] = {
    "baseline": "aigc.recommend.base:Baseline",
    "knn": "aigc.recommend.knn:KNN",
    "svd": "aigc.recommend.mf:SVD",
    "svdpp": "aigc.recommend.mf:SVDpp",
    "als": "aigc.recommend.implicit:ImplicitALS",
    "bpr": "aigc.recommend.implicit:BPR",
    "ease": "aigc.recommend.implicit:EASE",
    "popularity": "aigc.recommend.implicit:Popularity",
    "content": "aigc.recommend.content:ContentTFIDF",
    "hybrid": "aigc.recommend.content:Hybrid",
    "blend": "aigc.recommend.blend:Blend",
}


def algorithm_class(name: str) -> Any:
    if name not in ALGORITHMS:
        raise BadInputError(f"unknown recommender {name!r}; choose one of {sorted(ALGORITHMS)}")
    return resolve(ALGORITHMS[name])


def make_algorithm(name: str, params: dict[str, Any] | None = None) -> Any:
    """A fresh recommender ``name`` with its config built strictly from ``params`` (unknown keys fail)."""
    cls = algorithm_class(name)
    return cls(config_from_dict(cls.config_class, dict(params or {})))
