"""Recommender look-up by name, from the task's own list (``TASK.architectures``; imported lazily)."""

from __future__ import annotations

from typing import Any, Mapping

from aigc.core.config import config_from_dict
from aigc.core.errors import BadInputError
from aigc.core.registry import resolve
from aigc.recommend.task import TASK

__all__ = ["ALGORITHMS", "algorithm_class", "make_algorithm"]

# the task description is the one list of algorithms (name -> "module:Class")
ALGORITHMS: Mapping[str, str] = TASK.architectures


def algorithm_class(name: str) -> Any:
    if name not in ALGORITHMS:
        raise BadInputError(f"unknown recommender {name!r}; choose one of {sorted(ALGORITHMS)}")
    return resolve(ALGORITHMS[name])


def make_algorithm(name: str, params: dict[str, Any] | None = None) -> Any:
    """A fresh recommender ``name`` with its config built strictly from ``params`` (unknown keys fail)."""
    cls = algorithm_class(name)
    return cls(config_from_dict(cls.config_class, dict(params or {})))
