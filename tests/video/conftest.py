"""Video test fixtures: tiny synthetic digit banks, and the video task registered while the
registry line is pending."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _video_registered(monkeypatch):
    from aigc.core import registry

    if "video" not in registry.TASKS:
        monkeypatch.setitem(registry.TASKS, "video", "aigc.video.task:TASK")


@pytest.fixture
def digit_bank() -> np.ndarray:
    """Ten synthetic 28x28 uint8 "digits": a bright ring, a bar and a box at different places."""
    rng = np.random.default_rng(0)
    bank = np.zeros((10, 28, 28), dtype=np.uint8)
    yy, xx = np.mgrid[:28, :28]
    for i in range(10):
        r = 6 + i % 5
        ring = np.abs(np.hypot(yy - 14, xx - 14) - r) < 1.5
        bank[i][ring] = 255
        bank[i, 4 + i:8 + i, 6:22] = rng.integers(100, 256)
    return bank
