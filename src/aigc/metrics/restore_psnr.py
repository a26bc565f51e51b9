"""Peak signal-to-noise ratio, per image then averaged (the restoration literature's convention).

``y_channel=True`` measures the BT.601 Y channel and ``shave`` crops the border (use the SR scale),
as in SRCNN/EDSR/BasicSR tables; ``y_channel=False`` is plain RGB PSNR.
"""

from __future__ import annotations

from typing import Any

import torch

from aigc.metrics._restore import PerImageMean, prepare_pair

__all__ = ["psnr_per_image", "psnr", "PSNR"]


def psnr_per_image(pred: Any, target: Any, *, data_range: float = 1.0, y_channel: bool = False,
                   shave: int = 0) -> torch.Tensor:
    """(N,) float64 PSNR in dB of (N, C, H, W) images in [0, data_range]; inf where identical."""
    p, t = prepare_pair(pred, target, y_channel=y_channel, shave=shave)
    if y_channel:
        data_range = 1.0  # Y is computed from [0, 1] RGB and lies in [16, 235] / 255
    mse = ((p - t) ** 2).flatten(1).mean(dim=1)
    return 10 * torch.log10(data_range**2 / mse)


def psnr(pred: Any, target: Any, *, data_range: float = 1.0, y_channel: bool = False, shave: int = 0) -> float:
    """Mean over images of the per-image PSNR (dB). Inputs (N, C, H, W), (C, H, W) or (H, W).

    With ``y_channel=True`` inputs must be RGB (or grey) in [0, 1].
    """
    return float(psnr_per_image(pred, target, data_range=data_range, y_channel=y_channel, shave=shave).mean())


class PSNR(PerImageMean):
    """Accumulates the sum and count of per-image PSNR; ``compute`` returns the mean."""

    per_image = staticmethod(psnr_per_image)
