"""Blocks shared by the image generators: DCGAN conv stacks (Radford et al. 2015), spectral
normalisation, and the diffusion U-Net parts (timestep embedding, residual blocks, attention)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError

__all__ = ["num_doublings", "up_stack", "down_stack", "dcgan_init", "spectral_normalize",
           "timestep_embedding", "group_norm", "ResBlock", "SelfAttention"]


def num_doublings(image_size: int) -> int:
    """How many x2 steps lead from 4x4 to ``image_size`` (a power of two in 8..64)."""
    if image_size not in (8, 16, 32, 64):
        raise BadInputError(f"image size must be 8, 16, 32 or 64 pixels, got {image_size}")
    return int(math.log2(image_size)) - 2


def up_stack(width: int, out_channels: int, doublings: int, *, norm: bool) -> nn.Sequential:
    """(B, width, 4, 4) -> (B, out_channels, 4 * 2**doublings, ...) with stride-2 transposed convs.

    Channel count halves at each step (min 16); the last layer has no norm or activation.
    """
    layers: list[nn.Module] = []
    ch = width
    for i in range(doublings):
        last = i == doublings - 1
        nxt = out_channels if last else max(16, ch // 2)
        layers.append(nn.ConvTranspose2d(ch, nxt, 4, 2, 1, bias=last or not norm))
        if not last:
            if norm:
                layers.append(nn.BatchNorm2d(nxt))
            layers.append(nn.ReLU(inplace=True))
        ch = nxt
    return nn.Sequential(*layers)


def down_stack(in_channels: int, width: int, doublings: int, *, norm: bool) -> tuple[nn.Sequential, int]:
    """(B, in_channels, S, S) -> (B, C, 4, 4) with stride-2 convs and LeakyReLU(0.2).

    Widths double up to ``width`` at the last layer; no norm on the first layer (DCGAN).
    Returns the stack and its output channel count ``C``.
    """
    widths = [max(16, width // 2 ** (doublings - 1 - i)) for i in range(doublings)]
    layers: list[nn.Module] = []
    ch = in_channels
    for i, w in enumerate(widths):
        use_norm = norm and i > 0
        layers.append(nn.Conv2d(ch, w, 4, 2, 1, bias=not use_norm))
        if use_norm:
            layers.append(nn.BatchNorm2d(w))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        ch = w
    return nn.Sequential(*layers), ch


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) conv weights and N(1, 0.02) norm scales (Radford et al. 2015, section 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def spectral_normalize(module: nn.Module) -> nn.Module:
    """Put spectral normalisation (Miyato et al. 2018) on every conv, linear and embedding weight.

    Uses ``torch.nn.utils.parametrizations.spectral_norm`` (one power iteration per forward, as in
    the paper). Returns ``module`` for chaining.
    """
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            spectral_norm(m)
    return module


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding (B,) -> (B, dim) of (possibly fractional) timesteps.

    The Transformer position code (Vaswani et al. 2017) as used for diffusion time by Ho et al. 2020.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, dim % 2))


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups that divide ``channels`` (Wu & He 2018; used by Ho et al. 2020)."""
    groups = math.gcd(32, channels)
    return nn.GroupNorm(groups, channels)


class ResBlock(nn.Module):
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


class SelfAttention(nn.Module):
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
