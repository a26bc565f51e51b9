"""A small U-Net that predicts the noise of a diffused image (Ho et al. 2020, appendix B, scaled
down): residual blocks with time (and class) embeddings, self-attention at the coarse levels.
A pure module: it knows no noise schedule, so one network serves DDPM and DDIM sampling alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aigc.nn.conv import EmbResBlock as ResBlock
from aigc.nn.conv import PixelSelfAttention as SelfAttention
from aigc.nn.conv import group_norm
from aigc.nn.embeddings import timestep_embedding

__all__ = ["UNetConfig", "UNet"]


@dataclass(kw_only=True)
class UNetConfig:
    image_size: int = 32
    channels: int = 1
    features: int = 32  # channels at full resolution
    mults: tuple[int, ...] = (1, 2, 2)  # channel multiplier per level; each further level halves the size
    attention_levels: tuple[int, ...] = (2,)  # levels with self-attention (16x16 in Ho et al. 2020)
    num_res_blocks: int = 1
    dropout: float = 0.0
    num_classes: int = 0  # > 0: class embedding with an extra "null" class for classifier-free guidance

    def __post_init__(self) -> None:
        levels = len(self.mults)
        if levels < 1 or self.image_size % 2 ** (levels - 1):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2^{levels - 1} (mults {self.mults})")
        if self.channels < 1 or self.features < 8 or self.num_res_blocks < 1 or self.num_classes < 0:
            raise ValueError("channels >= 1, features >= 8, num_res_blocks >= 1, num_classes >= 0 required")
        if any(not 0 <= lvl < levels for lvl in self.attention_levels):
            raise ValueError(f"attention_levels {self.attention_levels} must lie in 0..{levels - 1}")


class UNet(nn.Module):
    """(x_t (B, C, S, S), t (B,) long, labels (B,) long or None) -> predicted noise (B, C, S, S).

    Labels take values in 0..num_classes, where ``num_classes`` is the "null" (unconditional) class;
    ``labels=None`` means all-null.
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        f, emb = config.features, config.features * 4
        self.time_mlp = nn.Sequential(nn.Linear(f, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.class_embed = nn.Embedding(config.num_classes + 1, emb) if config.num_classes else None
        self.stem = nn.Conv2d(config.channels, f, 3, padding=1)
        skips = self._build_down(emb)
        mid = f * config.mults[-1]
        self.mid = nn.ModuleList([ResBlock(mid, mid, emb), SelfAttention(mid), ResBlock(mid, mid, emb)])
        self._build_up(emb, skips)
        self.head = nn.Sequential(group_norm(f), nn.SiLU(), nn.Conv2d(f, config.channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)  # start as "predict zero noise" (stable early training)
        nn.init.zeros_(self.head[-1].bias)

    def _level_block(self, in_ch: int, out_ch: int, emb: int, level: int) -> nn.ModuleList:
        parts: list[nn.Module] = [ResBlock(in_ch, out_ch, emb, self.config.dropout)]
        if level in self.config.attention_levels:
            parts.append(SelfAttention(out_ch))
        return nn.ModuleList(parts)

    def _build_down(self, emb: int) -> list[int]:
        cfg, ch = self.config, self.config.features
        skips = [ch]
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for level, mult in enumerate(cfg.mults):
            for _ in range(cfg.num_res_blocks):
                self.down.append(self._level_block(ch, cfg.features * mult, emb, level))
                ch = cfg.features * mult
                skips.append(ch)
            if level < len(cfg.mults) - 1:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        return skips

    def _build_up(self, emb: int, skips: list[int]) -> None:
        cfg = self.config
        ch = cfg.features * cfg.mults[-1]
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(cfg.mults))):
            for _ in range(cfg.num_res_blocks + 1):
                out = cfg.features * cfg.mults[level]
                self.up.append(self._level_block(ch + skips.pop(), out, emb, level))
                ch = out
            if level > 0:
                self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1))

    def _embed(self, t: torch.Tensor, labels: torch.Tensor | None, batch: int) -> torch.Tensor:
        e = self.time_mlp(timestep_embedding(t, self.config.features))
        if self.class_embed is not None:
            if labels is None:
                labels = torch.full((batch,), self.config.num_classes, dtype=torch.long, device=e.device)
            e = e + self.class_embed(labels)
        return e

    @staticmethod
    def _run(block: nn.ModuleList, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for layer in block:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
        return h

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.config
        emb = self._embed(t, labels, x.shape[0])
        h = self.stem(x)
        hs = [h]
        blocks = iter(self.down)
        for level in range(len(cfg.mults)):
            for _ in range(cfg.num_res_blocks):
                h = self._run(next(blocks), h, emb)
                hs.append(h)
            if level < len(cfg.mults) - 1:
                h = self.downsample[level](h)
                hs.append(h)
        h = self._run(self.mid, h, emb)
        blocks = iter(self.up)
        for i, level in enumerate(reversed(range(len(cfg.mults)))):
            for _ in range(cfg.num_res_blocks + 1):
                h = self._run(next(blocks), torch.cat([h, hs.pop()], dim=1), emb)
            if level > 0:
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.head(h)
