"""Generated artifacts carry their recipe: PNG text chunks (model id, seed, parameters)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from aigc.core.atomic import atomic_path

__all__ = ["make_grid", "to_uint8", "save_png", "read_png_metadata"]


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 1) -> np.ndarray:
    """Tile (N, C, H, W) images in [0, 1] into one (H', W', C) uint8 array (C = 1 or 3)."""
    if images.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + padding) + padding, nrow * (w + padding) + padding)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, y:y + h, x:x + w] = images[i].detach().float().cpu()
    return to_uint8(grid)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W, C) uint8, rounding to nearest."""
    arr = image.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()
    return np.transpose(arr, (1, 2, 0))


def save_png(path: str | Path, array: np.ndarray, metadata: Mapping[str, Any] | None = None,
             *, scale_to: int | None = None) -> Path:
    """Write an (H, W, C) uint8 array as PNG atomically; ``metadata`` goes into tEXt chunks.

    ``scale_to`` enlarges small images with nearest-neighbour so a grid of 8-px digits is visible.
    """
    arr = array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array
    img = Image.fromarray(arr)
    if scale_to and max(img.size) < scale_to:
        factor = -(-scale_to // max(img.size))  # round up
        img = img.resize((img.width * factor, img.height * factor), Image.NEAREST)
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(f"aigc:{key}", value if isinstance(value, str) else json.dumps(value))
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", pnginfo=info)
    return path


def read_png_metadata(path: str | Path) -> dict[str, Any]:
    """The ``aigc:*`` text chunks of a PNG, JSON-decoded where possible."""
    with Image.open(path) as img:
        text = dict(getattr(img, "text", {}))
    out: dict[str, Any] = {}
    for key, value in text.items():
        if key.startswith("aigc:"):
            try:
                out[key[5:]] = json.loads(value)
            except json.JSONDecodeError:
                out[key[5:]] = value
    return out
