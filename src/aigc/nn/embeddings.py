"""Sinusoidal embeddings of positions and (diffusion) timesteps."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["timestep_embedding"]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding (B,) -> (B, dim) of (possibly fractional) timesteps.

    The Transformer position code (Vaswani et al. 2017) as used for diffusion time by Ho et al. 2020.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, dim % 2))
