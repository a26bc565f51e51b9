"""Config dataclasses <-> JSON, strictly (unknown keys are rejected)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from aigc.core.errors import BadInputError

__all__ = ["config_to_dict", "config_from_dict", "config_diff", "model_config_with", "PRECISIONS"]

T = TypeVar("T")
PRECISIONS = ("fp32", "bf16", "fp16")  # training/inference numeric precisions (aigc.core.device applies them)


def config_to_dict(config: Any) -> dict[str, Any]:
    """Return a JSON-safe dict of a config dataclass (tuples become lists)."""
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"expected a config dataclass, got {type(config).__name__}")
    out = dataclasses.asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build ``cls`` from ``data``; unknown keys are an error naming them and the valid ones."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise BadInputError(
            f"{cls.__name__}: unknown key(s) {unknown}; valid keys are {sorted(names)}"
        )
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            value = data[f.name]
            if isinstance(value, list) and "tuple" in str(f.type):
                value = tuple(value)
            kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{cls.__name__}: {exc}") from exc


def config_diff(old: Any, new: Any, prefix: str) -> list[str]:
    """Human-readable differences between two JSON values, one ``"key: stored X, given Y"`` each
    (nested dicts are walked, so the message names ``model.image_size`` rather than ``model``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for key in sorted(set(old) | set(new), key=str)
                for d in config_diff(old.get(key), new.get(key), f"{prefix}.{key}")]
    return [] if old == new else [f"{prefix}: stored {old!r}, given {new!r}"]


def model_config_with(cls: type[T], arch: str, fields: dict[str, Any], overrides: dict[str, Any]) -> T:
    """An architecture's config dataclass from the fields a task derived (data shapes, flags) and the
    user's ``--model key=value`` overrides, which win; an unknown or invalid setting is one line."""
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise BadInputError(f"{arch} has no model setting(s) {unknown}; it has {sorted(names)}")
    try:
        return cls(**{**fields, **overrides})
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{arch} model settings: {exc}") from exc
