"""Building blocks shared by the restoration networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.nn.conv import conv3

__all__ = ["Upsampler", "PartialConv2d", "check_scale"]

SCALES = (2, 3, 4)


def check_scale(scale: int) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale}")


class Upsampler(nn.Sequential):
    """Sub-pixel convolution upsampling (Shi et al. 2016): (B, C, H, W) -> (B, C, sH, sW).

    Scale 4 is two x2 stages (as in SRResNet / EDSR); 2 and 3 are one stage.
    """

    def __init__(self, channels: int, scale: int) -> None:
        check_scale(scale)
        stages = [2, 2] if scale == 4 else [scale]
        layers: list[nn.Module] = []
        for s in stages:
            layers += [conv3(channels, channels * s * s), nn.PixelShuffle(s)]
        super().__init__(*layers)


class PartialConv2d(nn.Conv2d):
    """Partial convolution (Liu et al. 2018): convolve only known pixels, re-normalised.

    ``forward(x, mask)`` with x (B, C, H, W) and mask (B, 1, H, W) (1 = known) returns the
    output and the updated mask (1 where the window saw any known pixel).
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        if mask.shape[1] != 1:
            raise BadInputError(f"PartialConv2d mask must have 1 channel, got {mask.shape[1]}")
        ones = torch.ones(1, 1, *self.kernel_size, device=x.device, dtype=x.dtype)
        with torch.no_grad():
            count = F.conv2d(mask, ones, stride=self.stride, padding=self.padding, dilation=self.dilation)
            new_mask = (count > 0).to(x.dtype)
            ratio = (ones.numel() / count.clamp(min=1.0)) * new_mask
        out = F.conv2d(x * mask, self.weight, None, self.stride, self.padding, self.dilation)
        out = out * ratio
        if self.bias is not None:
            out = (out + self.bias.view(1, -1, 1, 1)) * new_mask
        return out, new_mask
