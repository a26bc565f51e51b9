"""Blocks of the GAN family: DCGAN conv stacks (Radford et al. 2015) and spectral normalisation.
Generic blocks (residual, attention, embeddings) live in :mod:`aigc.nn`."""

from __future__ import annotations

import math

from torch import nn

from aigc.core.errors import BadInputError

__all__ = ["num_doublings", "up_stack", "down_stack", "dcgan_init", "spectral_normalize"]


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
