"""Image transforms on (N, C, H, W) float tensors in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from aigc.data.color import luma

__all__ = ["resize", "to_channels", "random_hflip", "to_signed", "from_signed"]


def resize(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (antialiased when shrinking) of (N, C, H, W) images."""
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(images.shape[-2:]) == hw:
        return images
    shrink = hw[0] < images.shape[-2] or hw[1] < images.shape[-1]
    out = F.interpolate(images, size=hw, mode="bilinear", align_corners=False, antialias=shrink)
    return out.clamp_(0.0, 1.0)


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert (N, C, H, W) to 1 (ITU-R BT.601 luma) or 3 channels."""
    c = images.shape[1]
    if c == channels:
        return images
    if channels == 3 and c == 1:
        return images.expand(-1, 3, -1, -1).contiguous()
    if channels == 1 and c == 3:
        return luma(images)
    raise ValueError(f"cannot convert {c} channels to {channels}")


def random_hflip(images: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5) -> torch.Tensor:
    """Flip each image left-right with probability ``p``."""
    flip = torch.rand(images.shape[0], generator=generator, device=images.device) < p
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def to_signed(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1] (the range tanh generators produce)."""
    return images * 2.0 - 1.0


def from_signed(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], clamped."""
    return ((images + 1.0) * 0.5).clamp(0.0, 1.0)
