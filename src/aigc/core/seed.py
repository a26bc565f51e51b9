"""Explicit seeding: entry points seed, library functions take a ``torch.Generator | None``."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything", "make_generator"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch global RNGs (for entry points only)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g
