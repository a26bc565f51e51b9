"""Structural similarity (SSIM; Wang et al. 2004), matching scikit-image's ``structural_similarity``
with ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False`` and a given ``data_range``.

Written here rather than taken from torchmetrics because torchmetrics pads and crops differently
and differs from scikit-image by ~1e-3; this one agrees to ~1e-10 (a test says so).
Colour images: the mean of per-channel SSIM (scikit-image's ``channel_axis`` behaviour).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from aigc.core.errors import BadInputError
from aigc.metrics._restore import PerImageMean, prepare_pair

__all__ = ["ssim_per_image", "ssim", "SSIM"]

_SIGMA, _TRUNCATE = 1.5, 3.5  # scikit-image / scipy.ndimage.gaussian_filter defaults
_K1, _K2 = 0.01, 0.03  # Wang et al. 2004


def _gaussian_1d(sigma: float) -> torch.Tensor:
    radius = int(_TRUNCATE * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _filter(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filter of (B, 1, H, W); equals skimage's filter + border crop."""
    x = F.conv2d(x, w.view(1, 1, -1, 1))
    return F.conv2d(x, w.view(1, 1, 1, -1))


def ssim_per_image(pred: Any, target: Any, *, data_range: float = 1.0, y_channel: bool = False,
                   shave: int = 0) -> torch.Tensor:
    """(N,) float64 SSIM of (N, C, H, W) images in [0, data_range]."""
    p, t = prepare_pair(pred, target, y_channel=y_channel, shave=shave)
    if y_channel:
        data_range = 1.0
    w = _gaussian_1d(_SIGMA)
    if min(p.shape[-2:]) < w.numel():
        raise BadInputError(f"SSIM needs images at least {w.numel()}x{w.numel()}, got {tuple(p.shape[-2:])}")
    n, c = p.shape[:2]
    x, y = p.reshape(n * c, 1, *p.shape[-2:]), t.reshape(n * c, 1, *t.shape[-2:])
    stacked = _filter(torch.cat([x, y, x * x, y * y, x * y]), w)
    ux, uy, uxx, uyy, uxy = stacked.split(n * c)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return s.reshape(n, c, -1).mean(dim=2).mean(dim=1)


def ssim(pred: Any, target: Any, *, data_range: float = 1.0, y_channel: bool = False, shave: int = 0) -> float:
    """Mean over images of SSIM. Inputs (N, C, H, W), (C, H, W) or (H, W) in [0, data_range]."""
    return float(ssim_per_image(pred, target, data_range=data_range, y_channel=y_channel, shave=shave).mean())


class SSIM(PerImageMean):
    """Accumulates the sum and count of per-image SSIM; ``compute`` returns the mean."""

    per_image = staticmethod(ssim_per_image)
