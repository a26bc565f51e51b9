"""Fixtures shared by the restore tests: tiny training runs through the real Trainer, synthetic photos."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aigc.train import Trainer
from aigc.train.config import TrainConfig


def train(objective, data: dict[str, torch.Tensor], out: Path, *, steps: int, lr: float = 1e-3,
          batch_size: int = 8, seed: int = 0, meta: dict | None = None) -> dict:
    """Fit ``objective`` for ``steps`` on CPU into model directory ``out``; return the summary."""
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, device="cpu", seed=seed,
                      progress=False, log_every=1, checkpoint_every=10_000)
    arch = meta["architecture"] if meta else type(objective).__name__.lower()
    full_meta = {"task": "restore", "architecture": arch, **(meta or {})}
    return Trainer(objective, cfg, out, meta=full_meta).fit(data)


def synthetic_photos(n: int, size: int, seed: int = 0, channels: int = 3) -> list:
    """``n`` smooth random (size, size[, 3]) uint8 images (sums of sinusoids)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    out = []
    for _ in range(n):
        chans = [127 + 70 * np.sin(x / rng.uniform(2, 8) + y / rng.uniform(2, 9) + rng.uniform(0, 6))
                 + 40 * np.cos(y / rng.uniform(2, 6) - x / rng.uniform(3, 9)) for _ in range(channels)]
        img = np.clip(np.stack(chans, -1), 0, 255).round().astype(np.uint8)
        out.append(img if channels == 3 else img[..., 0])
    return out


@pytest.fixture
def run_training():
    return train


@pytest.fixture
def photos():
    return synthetic_photos
