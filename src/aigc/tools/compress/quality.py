"""Resolving a task's quality figure (``Task.quality``: lower is better) for ``aigc compress``'s
gate; the figures themselves live with their tasks (e.g. ``aigc.restore.quality:restore_rmse``)."""

from __future__ import annotations

from typing import Any

__all__ = ["resolve_quality"]


def resolve_quality(target: str) -> tuple[Any, str]:
    """``"module:fn"`` or ``"module:fn#key"`` -> (callable returning a float, figure name)."""
    from aigc.core.registry import resolve

    spec, _, key = target.partition("#")
    fn = resolve(spec)
    name = key or spec.rpartition(":")[2]
    if not key:
        return fn, name
    return (lambda pipe, data: fn(pipe, data)[key]), name
