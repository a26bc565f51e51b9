"""A 1-D U-Net over log-mel frames, conditioned on the diffusion time, the digit and the speaker.

The mel bins are the channels and the convolutions run along time: a spectrogram is a sequence of
frames, and a 1-D net is several times cheaper on a CPU than a 2-D one over (bins, frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.nn.embeddings import timestep_embedding

__all__ = ["MelUNet", "MelUNetConfig"]


@dataclass(kw_only=True)
class MelUNetConfig:
    n_mels: int = 40
    frames: int = 48
    channels: int = 128
    mult: tuple[int, ...] = (1, 2, 2)
    blocks: int = 2  # residual blocks per level
    num_classes: int = 10
    num_speakers: int = 6
    dropout: float = 0.0

    def __post_init__(self) -> None:
        factor = 2 ** (len(self.mult) - 1)
        if self.frames % factor:
            raise BadInputError(f"mel U-Net: frames ({self.frames}) must be divisible by {factor}")
        if self.channels % 8:
            raise BadInputError(f"mel U-Net: channels ({self.channels}) must be a multiple of 8 (GroupNorm)")


class ResBlock1d(nn.Module):
    """GroupNorm-SiLU-conv twice; the condition scales and shifts after the second norm
    (Dhariwal & Nichol 2021)."""

    def __init__(self, cin: int, cout: int, emb: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, cin), nn.Conv1d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb, 2 * cout)
        self.norm2, self.conv2 = nn.GroupNorm(8, cout), nn.Conv1d(cout, cout, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return h + self.skip(x)


class MelUNet(nn.Module):
    """(B, n_mels, frames) noisy mels, (B,) times, (B,) digits, (B,) speakers -> (B, n_mels, frames).

    Digit ``num_classes`` and speaker ``num_speakers`` are the "unconditional" tokens used for
    classifier-free guidance.
    """

    def __init__(self, cfg: MelUNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, emb = cfg.channels, 4 * cfg.channels
        self.time_mlp = nn.Sequential(nn.Linear(c, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.digit_emb = nn.Embedding(cfg.num_classes + 1, emb)
        self.speaker_emb = nn.Embedding(cfg.num_speakers + 1, emb)
        self.inp = nn.Conv1d(cfg.n_mels, c, 3, padding=1)
        widths = [c * m for m in cfg.mult]
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        skips, ch = [], c
        for i, w in enumerate(widths):
            for _ in range(cfg.blocks):
                self.down.append(ResBlock1d(ch, w, emb, cfg.dropout))
                ch = w
                skips.append(ch)
            self.downsample.append(nn.Conv1d(ch, ch, 3, stride=2, padding=1) if i < len(widths) - 1 else nn.Identity())
        self.mid = nn.ModuleList([ResBlock1d(ch, ch, emb, cfg.dropout), ResBlock1d(ch, ch, emb, cfg.dropout)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            for _ in range(cfg.blocks):
                self.up.append(ResBlock1d(ch + skips.pop(), w, emb, cfg.dropout))
                ch = w
            self.upsample.append(nn.Conv1d(ch, ch, 3, padding=1) if i > 0 else nn.Identity())
        self.out = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv1d(ch, cfg.n_mels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, digit: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        emb = self.time_mlp(timestep_embedding(t, cfg.channels)) + self.digit_emb(digit) + self.speaker_emb(speaker)
        h = self.inp(x)
        hs, k = [], 0
        for level, down in enumerate(self.downsample):
            for _ in range(cfg.blocks):
                h = self.down[k](h, emb)
                hs.append(h)
                k += 1
            h = down(h)
        for block in self.mid:
            h = block(h, emb)
        k = 0
        for level, up in enumerate(self.upsample):
            for _ in range(cfg.blocks):
                h = self.up[k](torch.cat([h, hs.pop()], dim=1), emb)
                k += 1
            if level < len(self.upsample) - 1:
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(h)
