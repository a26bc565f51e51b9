"""Image <-> tensor conversions and ITU-R BT.601 colour, defined once for every task.

Two BT.601 lumas are in use and both live here: the full-range one (``LUMA_BT601``, PIL's
``convert("L")``) for turning colour images grey, and the studio-swing YCbCr of MATLAB's
``rgb2ycbcr`` (Y in [16, 235] / 255) on which the super-resolution literature measures PSNR/SSIM.
"""

from __future__ import annotations

import numpy as np
import torch

from aigc.core.artifacts import to_uint8

__all__ = ["LUMA_BT601", "YCBCR_Y_WEIGHTS", "luma", "rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb",
           "array_to_tensor", "tensor_to_array"]

# full-range BT.601 luma weights of R, G, B (PIL's convert("L"))
LUMA_BT601 = (0.299, 0.587, 0.114)
# studio-swing BT.601 Y row of MATLAB's rgb2ycbcr, for RGB in [0, 1]: Y = (16 + w . rgb) / 255
YCBCR_Y_WEIGHTS = (65.481, 128.553, 24.966)

# ITU-R BT.601 for RGB in [0, 1] -> Y in [16, 235] / 255, Cb/Cr in [16, 240] / 255 (MATLAB rgb2ycbcr)
_M = torch.tensor([list(YCBCR_Y_WEIGHTS),
                   [-37.797, -74.203, 112.0],
                   [112.0, -93.786, -18.214]], dtype=torch.float64) / 255.0
_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64) / 255.0


def luma(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) full-range BT.601 luma (same range as the input)."""
    w = torch.tensor(LUMA_BT601, dtype=images.dtype, device=images.device)
    return (images * w.view(1, 3, 1, 1)).sum(1, keepdim=True)


def rgb_to_y(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) studio-swing BT.601 Y in [16/255, 235/255]."""
    r, g, b = images[:, 0:1], images[:, 1:2], images[:, 2:3]
    w = YCBCR_Y_WEIGHTS
    return (16.0 + w[0] * r + w[1] * g + w[2] * b) / 255.0


def rgb_to_ycbcr(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 3, H, W) YCbCr (Y in [16/255, 235/255])."""
    m = _M.to(images.device, images.dtype)
    off = _OFFSET.to(images.device, images.dtype)
    return torch.einsum("ij,njhw->nihw", m, images) + off.view(1, 3, 1, 1)


def ycbcr_to_rgb(images: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`: (N, 3, H, W) YCbCr -> RGB (not clamped)."""
    inv = torch.linalg.inv(_M).to(images.device, images.dtype)
    off = _OFFSET.to(images.device, images.dtype)
    return torch.einsum("ij,njhw->nihw", inv, images - off.view(1, 3, 1, 1))


def array_to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W) or (H, W, C) uint8 -> (1, C, H, W) float32 in [0, 1]."""
    arr = array[..., None] if array.ndim == 2 else array
    return torch.from_numpy(np.array(arr, dtype=np.uint8, copy=True)).permute(2, 0, 1)[None].float().div_(255.0)


def tensor_to_array(image: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) or (C, H, W) float in [0, 1] -> (H, W, C) uint8, rounded to nearest."""
    return to_uint8(image[0] if image.ndim == 4 else image)
