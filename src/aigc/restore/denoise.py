"""Denoising networks and objectives: DnCNN (Zhang et al. 2017) and a convolutional denoising
autoencoder (Vincent et al. 2008), for additive Gaussian noise of a given sigma (0-255 scale) or
blind over a range, on grey or colour images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.nn.conv import conv3
from aigc.restore.data import image_patches, load_images
from aigc.restore.degrade import add_noise, noise_sigmas, random_dihedral
from aigc.train.objective import NetworksObjective

__all__ = ["DnCNNConfig", "DAEConfig", "DnCNNNet", "DAENet", "DnCNNObjective", "DAEObjective", "DenoiseObjective"]


def _check_noise(config: "DnCNNConfig | DAEConfig") -> None:
    if config.channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (colour), got {config.channels}")
    if config.sigma < 0 or (config.sigma_max is not None and config.sigma_max <= config.sigma):
        raise ValueError(f"need 0 <= sigma < sigma_max, got sigma={config.sigma}, sigma_max={config.sigma_max}")
    if config.features < 4:
        raise ValueError(f"features must be >= 4, got {config.features}")


@dataclass(kw_only=True)
class DnCNNConfig:
    channels: int = 1
    depth: int = 17  # DnCNN-S, known sigma; the blind DnCNN-B uses 20 (Zhang et al. 2017)
    features: int = 64
    batch_norm: bool = True  # BN + residual learning is the paper's point
    sigma: float = 25.0  # noise level on the 0-255 scale (or the lower end when blind)
    sigma_max: float | None = None  # blind training: sigma ~ U[sigma, sigma_max] (DnCNN-B: [0, 55])

    def __post_init__(self) -> None:
        _check_noise(self)
        if self.depth < 3:
            raise ValueError(f"depth must be >= 3, got {self.depth}")


@dataclass(kw_only=True)
class DAEConfig:
    channels: int = 1
    features: int = 48  # widths features, 2x, 4x at full, 1/2 and 1/4 resolution
    sigma: float = 25.0
    sigma_max: float | None = None

    def __post_init__(self) -> None:
        _check_noise(self)


class DnCNNNet(nn.Module):
    """Noisy (B, C, H, W) -> clean estimate: the network predicts the noise, which is subtracted."""

    def __init__(self, config: DnCNNConfig) -> None:
        super().__init__()
        f, c, bn = config.features, config.channels, config.batch_norm
        layers: list[nn.Module] = [conv3(c, f), nn.ReLU(True)]
        for _ in range(config.depth - 2):
            layers += [conv3(f, f, bias=not bn)] + ([nn.BatchNorm2d(f)] if bn else []) + [nn.ReLU(True)]
        layers.append(conv3(f, c))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.body(x - 0.5)


class DAENet(nn.Module):
    """Noisy (B, C, H, W) -> clean (B, C, H, W): a conv encoder to 1/4 resolution and a decoder.

    Any size works: inputs are reflect-padded to a multiple of 4 and the output cropped.
    """

    def __init__(self, config: DAEConfig) -> None:
        super().__init__()
        f, c = config.features, config.channels
        self.encoder = nn.Sequential(conv3(c, f), nn.ReLU(True),
                                     nn.Conv2d(f, 2 * f, 4, 2, 1), nn.ReLU(True),
                                     nn.Conv2d(2 * f, 4 * f, 4, 2, 1), nn.ReLU(True))
        self.decoder = nn.Sequential(nn.ConvTranspose2d(4 * f, 2 * f, 4, 2, 1), nn.ReLU(True),
                                     nn.ConvTranspose2d(2 * f, f, 4, 2, 1), nn.ReLU(True), conv3(f, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        xp = F.pad(x - 0.5, (0, pw, 0, ph), mode="reflect") if ph or pw else x - 0.5
        return self.decoder(self.encoder(xp))[..., :h, :w] + 0.5


class DenoiseObjective(NetworksObjective):
    """MSE between the clean estimate and the clean patch; ``batch = {"clean": (N, C, p, p) uint8}``.

    Noise is drawn on the fly from ``ctx.generator`` (a fresh draw every step, as DnCNN does).
    """

    kind = "denoise"
    net_class: type[nn.Module] = DnCNNNet
    config_class: type = DnCNNConfig

    def __init__(self, config) -> None:
        self.config = config
        self.nets: dict[str, nn.Module] = {"net": self.net_class(config)}

    def example_inputs(self, name: str, batch: int = 1) -> tuple[torch.Tensor, ...]:
        """``aigc export``: a noisy (B, C, 16, 16) image in [0, 1]."""
        if name != "net":
            raise KeyError(name)
        return (torch.rand(batch, self.config.channels, 16, 16, generator=torch.Generator().manual_seed(0)),)

    def clean_input(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        if x.shape[1] != self.config.channels:
            x = x.mean(1, keepdim=True) if self.config.channels == 1 else x.expand(-1, 3, -1, -1)
        return x

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        (clean,) = random_dihedral(ctx.generator, batch["clean"])
        clean = self.clean_input(clean)
        sig = noise_sigmas(clean.shape[0], self.config.sigma, self.config.sigma_max, ctx.generator, clean.device)
        noisy = add_noise(clean, sig, ctx.generator)
        out = nets["net"](noisy).float()
        loss = F.mse_loss(out, clean)
        psnr = -10 * torch.log10(F.mse_loss(out.detach().clamp(0, 1), clean).clamp(min=1e-10))
        return {"loss": loss, "psnr": psnr}

    def make_data(self, spec: str, *, patch: int | None, n: int, seed: int) -> dict[str, torch.Tensor]:
        """Clean training patches (default 40 px, DnCNN's size for sigma-specific models)."""
        arrays, _ = load_images(spec, mode="L" if self.config.channels == 1 else "RGB")
        return {"clean": image_patches(arrays, patch or 40, n, seed, self.config.channels)}

    def receptive_radius(self) -> int:
        return self.config.depth if isinstance(self.config, DnCNNConfig) else 20

    def restore(self, nets: Mapping[str, nn.Module], x: torch.Tensor) -> torch.Tensor:
        """(1, C, H, W) noisy image in [0, 1] -> (1, C, H, W) estimate; colour <-> grey as needed."""
        if x.shape[1] == self.config.channels:
            return nets["net"](x)
        if self.config.channels == 1:  # a grey model on colour: denoise each channel
            return torch.cat([nets["net"](x[:, i:i + 1]) for i in range(x.shape[1])], 1)
        return nets["net"](x.expand(-1, 3, -1, -1)).mean(1, keepdim=True)


class DnCNNObjective(DenoiseObjective):
    net_class = DnCNNNet
    config_class = DnCNNConfig


class DAEObjective(DenoiseObjective):
    net_class = DAENet
    config_class = DAEConfig
