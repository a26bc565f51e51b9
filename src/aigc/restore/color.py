"""Colour conversions of the restoration literature: BT.601 YCbCr as MATLAB's ``rgb2ycbcr``.

SR networks trained on the Y channel (SRCNN, ESPCN) restore Y and take Cb/Cr from bicubic
upsampling; PSNR/SSIM are then measured on Y (``aigc.metrics`` uses the same Y definition).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb", "array_to_tensor", "tensor_to_array"]

# ITU-R BT.601 for RGB in [0, 1] -> Y in [16, 235] / 255, Cb/Cr in [16, 240] / 255 (MATLAB rgb2ycbcr)
_M = torch.tensor([[65.481, 128.553, 24.966],
                   [-37.797, -74.203, 112.0],
                   [112.0, -93.786, -18.214]], dtype=torch.float64) / 255.0
_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64) / 255.0


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
    img = image[0] if image.ndim == 4 else image
    arr = img.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()
    return np.transpose(arr, (1, 2, 0))
