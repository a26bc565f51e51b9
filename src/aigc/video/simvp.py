"""SimVP (Gao et al. 2022) with a TAU-style translator (Tan et al. 2023): all-convolutional video
prediction.

Why this as the stronger model on a CPU: it has no recurrence, so all ten future frames come out of
one forward pass and a training step is a few batched convolutions instead of 19 sequential cell
updates — per CPU second it sees several times more sequences than ConvLSTM, and in OpenSTL's
table it matches ConvLSTM-S at a fraction of the FLOPs. The layout:

- encoder, per frame: ``patch x patch`` pixel-unshuffle (64x64x1 -> 16x16x16) and 3x3 convs;
- translator: the T frames' features stacked on channels, then either
  - ``"tau"`` blocks of large-kernel attention (5x5 depthwise, 7x7 depthwise dilated by 3, 1x1;
    Guo et al. 2022, as TAU's spatial attention) with a channel gate, each followed by a 1x1 MLP —
    the receptive field (~25 latent cells) covers a digit's path over ten frames; or
  - ``"conv"`` residual blocks of two dense 3x3 convolutions (SimVP's first translator was
    convolutional too, with Inception groups). It spends far more FLOPs than tau, but dense
    convolutions are what CPU matrix units run well: under bf16 autocast a CPU with AMX runs a
    256-wide 3x3 convolution at ~1 TFLOP/s on one core (fp32: ~0.15; tau's depthwise
    convolutions: a few GFLOP/s), so a translator 11x larger takes 0.65x the CPU time per step.
    On Moving MNIST it reached test MSE 66.3 in 60 CPU-minutes where the tau model in fp32
    reached 86.0 in 55 (``benchmarks/video_mmnist.py``); :data:`CONV_PRESET` holds its sizes.
    Without AMX (or avx512_bf16), bf16 is emulated and slow: keep ``tau``;
- decoder, per future frame: 3x3 convs with a skip from the last context frame's encoder features,
  pixel-shuffle back to full size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.nn.conv import group_norm

__all__ = ["SimVPConfig", "SimVPNet", "TranslatorBlock", "ConvTranslatorBlock", "TRANSLATORS", "CONV_PRESET"]

TRANSLATORS = ("tau", "conv")
# sizes `aigc train video --translator conv` uses unless --width / --layers say otherwise
CONV_PRESET = {"hid_s": 64, "hid_t": 256, "blocks": 6}


@dataclass(kw_only=True)
class SimVPConfig:
    channels: int = 1
    image_size: int = 64
    context: int = 10
    future: int = 10
    patch: int = 4
    hid_s: int = 32  # per-frame features (OpenSTL SimVP: 64)
    hid_t: int = 128  # translator width (OpenSTL: 512)
    enc_layers: int = 2
    blocks: int = 4  # translator blocks (OpenSTL: 8)
    mlp_ratio: float = 2.0  # tau blocks' MLP width
    translator: str = "tau"  # "tau" (large-kernel attention) or "conv" (residual dense 3x3 convolutions)

    def __post_init__(self) -> None:
        if self.translator not in TRANSLATORS:
            raise BadInputError(f"translator must be one of {TRANSLATORS}, got {self.translator!r}")
        if self.image_size % self.patch:
            raise BadInputError(f"image_size {self.image_size} must be a multiple of patch {self.patch}")
        if min(self.context, self.future, self.hid_s, self.hid_t, self.enc_layers, self.blocks) < 1:
            raise BadInputError("context, future, hid_s, hid_t, enc_layers and blocks must be >= 1")


def _conv_block(cin: int, cout: int, norm: bool = True) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), group_norm(cout) if norm else nn.Identity(),
                         nn.SiLU())


class TranslatorBlock(nn.Module):
    """Large-kernel attention + channel gate, then a 1x1 MLP; (B, C, H, W) -> same (pre-norm residual)."""

    def __init__(self, dim: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(1, dim), nn.GroupNorm(1, dim)
        self.proj_in = nn.Conv2d(dim, dim, 1)
        self.dw = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.dw_dilated = nn.Conv2d(dim, dim, 7, padding=9, dilation=3, groups=dim)
        self.pw = nn.Conv2d(dim, dim, 1)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, dim, 1), nn.Sigmoid())
        self.proj_out = nn.Conv2d(dim, dim, 1)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Conv2d(dim, hidden, 1), nn.GELU(), nn.Conv2d(hidden, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.gelu(self.proj_in(self.norm1(x)))
        attn = self.pw(self.dw_dilated(self.dw(y)))
        x = x + self.proj_out(attn * self.gate(attn) * y)
        return x + self.mlp(self.norm2(x))


class ConvTranslatorBlock(nn.Module):
    """``x + conv(silu(conv(silu(norm(x)))))`` with 3x3 convolutions; the second starts at zero, so
    a fresh block is the identity (a deep stack trains stably from the first step)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, dim)
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1)
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(self.norm(x)))))


class SimVPNet(nn.Module):
    """``forward(context (B, T_in, C, H, W))`` -> future frames (B, T_out, C, H, W) (unclamped)."""

    def __init__(self, config: SimVPConfig) -> None:
        super().__init__()
        self.config = config
        c, s = config.channels * config.patch**2, config.hid_s
        # the conv translator's frame encoder and decoder go without GroupNorm: on a CPU it took a
        # quarter of a bf16 step there (the translator's own blocks keep theirs)
        norm = config.translator == "tau"
        self.enc = nn.ModuleList([_conv_block(c, s, norm)] +
                                 [_conv_block(s, s, norm) for _ in range(config.enc_layers - 1)])
        self.t_in = nn.Conv2d(config.context * s, config.hid_t, 1)
        block = ((lambda: TranslatorBlock(config.hid_t, config.mlp_ratio)) if config.translator == "tau"
                 else (lambda: ConvTranslatorBlock(config.hid_t)))
        self.blocks = nn.Sequential(*(block() for _ in range(config.blocks)))
        self.t_out = nn.Conv2d(config.hid_t, config.future * s, 1)
        self.dec = nn.Sequential(*(_conv_block(s, s, norm) for _ in range(config.enc_layers - 1)))
        self.dec_skip = _conv_block(2 * s, s, norm)
        self.head = nn.Conv2d(s, c, 1)
        if config.translator == "conv":  # weights in the layout of the activations: -12 % per step
            self.to(memory_format=torch.channels_last)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        b, t = context.shape[:2]
        if t != cfg.context:
            raise BadInputError(f"this SimVP reads {cfg.context} context frames, got {t}")
        h = F.pixel_unshuffle(context.flatten(0, 1), cfg.patch)
        if cfg.translator == "conv":  # the layout oneDNN's dense convolutions want (no reorders)
            h = h.contiguous(memory_format=torch.channels_last)
        h = skip = self.enc[0](h)
        for layer in self.enc[1:]:
            h = layer(h)
        hw = h.shape[-2:]
        z = self.blocks(self.t_in(h.reshape(b, t * cfg.hid_s, *hw)))
        y = self.t_out(z).reshape(b * cfg.future, cfg.hid_s, *hw)
        y = self.dec(y)
        last = skip.unflatten(0, (b, t))[:, -1:].expand(b, cfg.future, -1, -1, -1).flatten(0, 1)
        y = self.head(self.dec_skip(torch.cat([y, last], dim=1)))
        return F.pixel_shuffle(y, cfg.patch).unflatten(0, (b, cfg.future))
