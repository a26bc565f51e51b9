"""Helpers for the task-contract tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """Four small grey photos cut from scikit-image's camera (a real image, shipped with it)."""
    from skimage import data

    folder = tmp_path_factory.mktemp("images")
    cam = data.camera()
    for i in range(4):
        Image.fromarray(np.ascontiguousarray(cam[i * 96:i * 96 + 48, 100:148])).save(folder / f"{i}.png")
    return folder
