"""Convolutional building blocks: 3x3 convs, GroupNorm, residual blocks, pixel self-attention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["conv3", "ResBlock", "group_norm", "EmbResBlock", "PixelSelfAttention"]


def conv3(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    """3x3 convolution with 'same' padding."""
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)


class ResBlock(nn.Module):
    """conv-ReLU-conv + identity, no batch norm (EDSR, Lim et al. 2017: BN hurts SR).

    ``res_scale`` multiplies the residual (0.1 stabilises wide EDSR); (B, C, H, W) -> same.
    """

    def __init__(self, channels: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(conv3(channels, channels), nn.ReLU(True), conv3(channels, channels))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.body(x)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups that divide ``channels`` (Wu & He 2018; used by Ho et al. 2020)."""
    groups = math.gcd(32, channels)
    return nn.GroupNorm(groups, channels)


class EmbResBlock(nn.Module):
    """Pre-activation residual block conditioned on a vector (time and class embedding) by a scale
    and shift after its second norm ("scale-shift norm", Dhariwal & Nichol 2021, sec. 3).

    x (B, in_ch, H, W), emb (B, emb_dim) -> (B, out_ch, H, W). Not the DDPM paper's additive bias
    before the norm: with one channel per group (GroupNorm on a narrow U-Net) the norm removes a
    per-channel constant exactly, and the network would never see the timestep or the class.
    """

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1, self.conv1 = group_norm(in_ch), nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * out_ch)
        self.norm2, self.conv2 = group_norm(out_ch), nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class PixelSelfAttention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map, residual: (B, C, H, W) -> same."""

    def __init__(self, channels: int, heads: int = 1) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        self.heads = heads
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.out(out.transpose(-1, -2).reshape(b, c, h, w))
