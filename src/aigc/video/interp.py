"""Frame interpolation: a small all-convolutional network that predicts the middle frame of two.

The two frames are pixel-unshuffled (64x64x1 -> 16x16x16 each), stacked, and passed through 3x3
residual blocks with dilations 1, 2, 4, ... so the receptive field spans a digit's displacement
between the frames; the output is pixel-shuffled back. It predicts the middle frame itself (no
blend of the inputs is added), so where a digit moved it is drawn once, at its midway position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError

__all__ = ["InterpConfig", "InterpNet"]


@dataclass(kw_only=True)
class InterpConfig:
    channels: int = 1
    image_size: int = 64
    patch: int = 4
    width: int = 64
    blocks: int = 4
    gap: int = 2  # training pairs are frames t and t + gap; the target is t + gap // 2

    def __post_init__(self) -> None:
        if self.image_size % self.patch:
            raise BadInputError(f"image_size {self.image_size} must be a multiple of patch {self.patch}")
        if min(self.width, self.blocks) < 1 or self.gap < 2 or self.gap % 2:
            raise BadInputError("width and blocks must be >= 1 and gap an even number >= 2")


class _DilatedBlock(nn.Module):
    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class InterpNet(nn.Module):
    """``forward(a, b)`` with (B, C, H, W) frames -> the middle frame (B, C, H, W) (unclamped)."""

    def __init__(self, config: InterpConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels * config.patch**2
        self.stem = nn.Conv2d(2 * c, config.width, 3, padding=1)
        self.body = nn.Sequential(*(_DilatedBlock(config.width, 2 ** (i % 3)) for i in range(config.blocks)))
        self.head = nn.Conv2d(config.width, c, 3, padding=1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        p = self.config.patch
        x = torch.cat([F.pixel_unshuffle(a, p), F.pixel_unshuffle(b, p)], dim=1)
        return F.pixel_shuffle(self.head(F.silu(self.body(self.stem(x)))), p)
