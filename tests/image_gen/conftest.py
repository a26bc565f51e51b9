"""Fixtures of the image-generation tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run on one torch thread: tiny convolutions on a shared 2-core machine are ~10x faster
    without OpenMP spin-waits between threads."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
