"""Shared fixtures: one natural photo at 256 px, and a tiny trained DCGAN (8 px digits)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from aigc.cli import main


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((256, 256), Image.BICUBIC))


@pytest.fixture(scope="session")
def dcgan_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("prov") / "dcgan"
    assert main(["train", "image-gen", "--arch", "dcgan", "--data", "digits", "--image-size", "8", "--features", "16",
                 "--latent-dim", "4", "--steps", "2", "--batch-size", "8", "--out", str(out), "--no-progress"]) == 0
    return out
