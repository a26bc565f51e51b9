"""Compress any model directory behind a quality gate: ``compress(model, out, quantize=..., prune=...)``.

The result is a model directory ``aigc.load`` serves like any other: config.json gains
``"compression"`` (what was done, size and quality before/after) and, for int8, ``"load_hooks"``
naming :data:`aigc.tools.compress.quantize.LOAD_HOOK`. Training state, logs and samples are not
carried over; other top-level files (tokenizer.json, ...) are.
"""

from __future__ import annotations

from aigc.core.lazy import lazy_exports

__all__ = ["compress"]

__getattr__, __dir__ = lazy_exports(__name__, {"compress": "core"})
