"""Inpainting with partial convolutions (Liu et al. 2018): a U-Net whose convolutions see only
known pixels, trained on random rectangular holes with an L1 loss weighted 6:1 hole:valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.restore.blocks import PartialConv2d
from aigc.restore.data import image_patches, load_images
from aigc.restore.degrade import random_dihedral, random_masks
from aigc.train.objective import NetworksObjective

__all__ = ["PConvConfig", "PConvUNet", "PConvObjective"]


@dataclass(kw_only=True)
class PConvConfig:
    channels: int = 3
    features: int = 32  # widths double per level, capped at 8x
    depth: int = 4  # stride-2 levels; holes up to ~2**depth * 3 pixels get filled in one pass
    hole_weight: float = 6.0  # Liu et al. 2018, eq. 7: L_hole weighted 6, L_valid 1
    valid_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.features < 4 or not 1 <= self.depth <= 7:
            raise ValueError(f"need features >= 4 and 1 <= depth <= 7, got {self.features}, {self.depth}")


class PConvUNet(nn.Module):
    """(image (B, C, H, W) with holes, known (B, 1, H, W), 1 = known) -> (B, C, H, W) in [0, 1].

    Encoder: stride-2 partial convs (first 7x7, then 5x5 and 3x3 as in the paper); decoder:
    nearest upsampling, concatenation with the skip (image and mask alike), 3x3 partial conv.
    """

    def __init__(self, config: PConvConfig) -> None:
        super().__init__()
        c, f, d = config.channels, config.features, config.depth
        widths = [min(f * 2**i, 8 * f) for i in range(d)]
        self.enc = nn.ModuleList()
        cin = c
        for i, w in enumerate(widths):
            k = 7 if i == 0 else 5 if i == 1 else 3
            self.enc.append(PartialConv2d(cin, w, k, 2, k // 2))
            cin = w
        self.dec = nn.ModuleList()
        skips = [c] + widths[:-1]
        for i in reversed(range(d)):
            self.dec.append(PartialConv2d(cin + skips[i], skips[i] if i else f, 3, 1, 1))
            cin = skips[i] if i else f
        self.out = nn.Conv2d(f, c, 1)
        self.levels = d

    def forward(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.levels
        ph, pw = (-h) % m, (-w) % m
        x, known = F.pad(x - 0.5, (0, pw, 0, ph)), F.pad(known, (0, pw, 0, ph))
        x = x * known
        feats = [(x, known)]
        for conv in self.enc:
            x, known = conv(x, known)
            x = F.relu(x)
            feats.append((x, known))
        feats.pop()
        for conv in self.dec:
            skip_x, skip_m = feats.pop()
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            known = F.interpolate(known, scale_factor=2, mode="nearest")
            x, known = conv(torch.cat([x, skip_x], 1), torch.maximum(known, skip_m))
            x = F.leaky_relu(x, 0.2)
        return torch.sigmoid(self.out(x))[..., :h, :w]


class PConvObjective(NetworksObjective):
    """Objective: ``batch = {"images": (N, C, p, p) uint8}``; holes drawn from ``ctx.generator``."""

    kind = "inpaint"
    config_class = PConvConfig

    def __init__(self, config: PConvConfig) -> None:
        self.config = config
        self.nets: dict[str, nn.Module] = {"net": PConvUNet(config)}

    def make_data(self, spec: str, *, patch: int | None, n: int, seed: int) -> dict[str, torch.Tensor]:
        arrays, _ = load_images(spec, mode="L" if self.config.channels == 1 else "RGB")
        return {"images": image_patches(arrays, patch or 64, n, seed, self.config.channels)}

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        (x,) = random_dihedral(ctx.generator, batch["images"])
        x = x.float() / 255.0
        hole = random_masks(x.shape[0], x.shape[2], x.shape[3], ctx.generator, x.device)
        out = nets["net"](x, 1 - hole).float()
        err = (out - x).abs()
        valid, holes = (err * (1 - hole)).mean(), (err * hole).mean()
        loss = self.config.valid_weight * valid + self.config.hole_weight * holes
        return {"loss": loss, "hole_l1": holes / hole.mean().clamp(min=1e-6)}

    def inpaint(self, nets: Mapping[str, nn.Module], x: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """(1, C', H, W) image and (1, 1, H, W) hole mask (1 = fill) -> (1, C', H, W) prediction."""
        c = self.config.channels
        inp = x.mean(1, keepdim=True) if c == 1 and x.shape[1] == 3 else x.expand(-1, c, -1, -1)
        out = nets["net"](inp, 1 - hole)
        return out.expand(-1, x.shape[1], -1, -1) if out.shape[1] != x.shape[1] else out
