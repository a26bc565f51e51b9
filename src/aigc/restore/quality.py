"""The restore task's quality figure (``Task.quality``; ``aigc compress`` gates on it), through the
Pipeline's public methods.

``restore_rmse(pipe, folder)``: root-mean-square error (0-255 scale) of the model's restoration of
every image in ``folder`` against the original: SR models see the image bicubic-downscaled by their
scale (PIL, as the SR benchmarks are made), denoisers see it with Gaussian noise of the model's
training sigma (fixed seed, so before/after compare the same noise).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc.core.errors import BadInputError

__all__ = ["restore_rmse"]

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def _images(folder: Path, mode: str) -> list[np.ndarray]:
    from PIL import Image

    files = sorted(f for f in folder.rglob("*") if f.suffix.lower() in SUFFIXES) if folder.is_dir() else []
    if not files:
        raise BadInputError(f"--eval-data {folder}: give a folder of images (png, jpg, ...)")
    out = []
    for f in files:
        with Image.open(f) as img:
            out.append(np.asarray(img.convert(mode)))
    return out


def _degrade(pipe: Any, image: np.ndarray, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    """(ground truth uint8 (H, W[, C]) cropped to the scale, model input (1, C, h, w) in [0, 1])."""
    from PIL import Image

    if pipe.kind == "sr":
        s = pipe.scale
        h, w = image.shape[0] // s * s, image.shape[1] // s * s
        gt = image[:h, :w]
        small = np.asarray(Image.fromarray(gt).resize((w // s, h // s), Image.BICUBIC))
        x = torch.from_numpy(small.astype(np.float32) / 255)
    else:
        gt = image
        sigma = float(pipe.config["model"].get("sigma", 25.0)) / 255
        g = torch.Generator().manual_seed(seed)
        clean = torch.from_numpy(image.astype(np.float32) / 255)
        x = clean + sigma * torch.randn(clean.shape, generator=g)
    x = x[None, None] if x.dim() == 2 else x.permute(2, 0, 1)[None]
    return gt, x


def restore_rmse(pipe: Any, data: str | os.PathLike) -> float:
    """RMSE (0-255) of an SR or denoise Pipeline on the images of folder ``data``."""
    if pipe.kind not in ("sr", "denoise"):
        raise BadInputError(f"a {pipe.kind!r} restore model has no quality figure for --eval-data; "
                            "sr and denoise models do")
    channels = int(pipe.config["model"].get("channels", 1))
    squared, count = 0.0, 0
    for i, image in enumerate(_images(Path(data), "L" if channels == 1 else "RGB")):
        gt, x = _degrade(pipe, image, seed=i)
        with torch.no_grad():
            out = (pipe.upscale(x, tile=0) if pipe.kind == "sr" else pipe.denoise(x, tile=0))[0]
        pred = (out.clamp(0, 1) * 255).round().permute(1, 2, 0).squeeze(-1).numpy()
        squared += float(((pred - gt.astype(np.float64)) ** 2).sum())
        count += gt.size
    return float(np.sqrt(squared / count))
