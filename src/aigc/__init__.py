"""aigc: train, generate, evaluate and ship generative models."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load"]


def load(path: str, *, device: str = "auto") -> Any:
    """Load a model directory and return its task's Pipeline (see ``aigc.core.modeldir``)."""
    from aigc.core.pipeline import load_pipeline

    return load_pipeline(path, device=device)
