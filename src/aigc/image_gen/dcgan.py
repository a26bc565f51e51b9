"""DCGAN (Radford, Metz & Chintala 2015) with the non-saturating GAN loss (Goodfellow et al. 2014)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.data.transforms import from_signed, random_hflip, to_signed
from aigc.image_gen.blocks import dcgan_init, down_stack, num_doublings, up_stack

__all__ = ["DCGANConfig", "Generator", "Discriminator", "DCGAN"]


@dataclass(kw_only=True)
class DCGANConfig:
    image_size: int = 32
    channels: int = 1
    latent_dim: int = 64
    g_features: int = 128  # channels of the generator's 4x4 layer
    d_features: int = 128  # channels of the discriminator's 4x4 layer
    hflip: bool = False  # augment real images with left-right flips (not for digits)
    beta1: float = 0.5  # Adam beta1 = 0.5 stabilises GAN training (Radford et al. 2015)
    real_label: float = 1.0  # < 1 = one-sided label smoothing (Salimans et al. 2016), e.g. 0.9

    def __post_init__(self) -> None:
        num_doublings(self.image_size)
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if not 0.5 < self.real_label <= 1.0:
            raise ValueError(f"real_label must be in (0.5, 1], got {self.real_label}")
        if self.latent_dim < 1 or self.g_features < 16 or self.d_features < 16:
            raise ValueError("latent_dim must be >= 1 and g_features/d_features >= 16")


class Generator(nn.Module):
    """z (B, latent_dim) -> images (B, C, S, S) in [-1, 1]."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        w = config.g_features
        self.project = nn.Sequential(nn.Linear(config.latent_dim, w * 16, bias=False),
                                     nn.Unflatten(1, (w, 4, 4)), nn.BatchNorm2d(w), nn.ReLU(True))
        self.body = up_stack(w, config.channels, num_doublings(config.image_size), norm=True)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.body(self.project(z)))


class Discriminator(nn.Module):
    """images (B, C, S, S) in [-1, 1] -> logits (B,)."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.body, ch = down_stack(config.channels, config.d_features,
                                   num_doublings(config.image_size), norm=True)
        self.head = nn.Linear(ch * 16, 1)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1)).squeeze(1)


class DCGAN:
    """Objective: one D step and one G step per training step."""

    config_class = DCGANConfig
    ema_networks = ("generator",)
    sampling_network = "generator"

    def __init__(self, config: DCGANConfig) -> None:
        self.config = config
        self.nets = {"generator": Generator(config), "discriminator": Discriminator(config)}

    def networks(self) -> dict[str, nn.Module]:
        return self.nets

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        betas = (self.config.beta1, 0.999)
        return {name: torch.optim.Adam(nets[name].parameters(), lr=lr, betas=betas)
                for name in ("discriminator", "generator")}

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        real = batch["images"]
        if self.config.hflip:
            real = random_hflip(real, ctx.generator)
        real = to_signed(real)
        z = torch.randn(real.shape[0], self.config.latent_dim, generator=ctx.generator, device=real.device)
        fake = nets["generator"](z)
        d_real, d_fake = nets["discriminator"](real), nets["discriminator"](fake.detach())
        d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, self.config.real_label))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        ctx.optimize("discriminator", d_loss)
        # The G step goes through the unwrapped D: D is not updated here, so DDP must not sync it.
        g_logits = ctx.raw["discriminator"](fake)
        g_loss = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
        ctx.optimize("generator", g_loss)
        return {"d_loss": d_loss, "g_loss": g_loss,
                "d_real": torch.sigmoid(d_real).mean(), "d_fake": torch.sigmoid(d_fake).mean()}

    @torch.no_grad()
    def sample(self, nets: Mapping[str, nn.Module], generator: torch.Generator, n: int = 64,
               batch_size: int = 256) -> torch.Tensor:
        """(n, C, S, S) images in [0, 1]; all latents are drawn first so batching never changes them."""
        g = nets["generator"]
        device = next(g.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=device)
        return torch.cat([from_signed(g(chunk)) for chunk in z.split(batch_size)])
