"""Convolutional VAE (Kingma & Welling 2014) with a Bernoulli-style likelihood on [0, 1] pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.data.transforms import random_hflip
from aigc.image_gen.blocks import down_stack, num_doublings, up_stack
from aigc.train.objective import NetworksObjective

__all__ = ["VAEConfig", "Encoder", "Decoder", "VAEObjective"]


@dataclass(kw_only=True)
class VAEConfig:
    image_size: int = 32
    channels: int = 1
    latent_dim: int = 16
    features: int = 128  # channels at the 4x4 bottleneck
    beta: float = 1.0  # weight of the KL term (beta-VAE, Higgins et al. 2017); 1 = the ELBO
    hflip: bool = False

    def __post_init__(self) -> None:
        num_doublings(self.image_size)
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.latent_dim < 1 or self.features < 16 or self.beta < 0:
            raise ValueError("latent_dim >= 1, features >= 16 and beta >= 0 are required")


class Encoder(nn.Module):
    """images (B, C, S, S) in [0, 1] -> (mu, logvar), each (B, latent_dim)."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.body, ch = down_stack(config.channels, config.features, num_doublings(config.image_size), norm=False)
        self.head = nn.Linear(ch * 16, 2 * config.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.body(x * 2 - 1).flatten(1)).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)


class Decoder(nn.Module):
    """z (B, latent_dim) -> pixel logits (B, C, S, S); ``sigmoid`` gives the mean image."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        w = config.features
        self.project = nn.Sequential(nn.Linear(config.latent_dim, w * 16), nn.Unflatten(1, (w, 4, 4)),
                                     nn.ReLU(True))
        self.body = up_stack(w, config.channels, num_doublings(config.image_size), norm=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z))


class VAEObjective(NetworksObjective):
    """Objective: negative ELBO per image = reconstruction (BCE summed over pixels) + beta * KL."""

    config_class = VAEConfig
    ema_networks: tuple[str, ...] = ()
    sampling_network = "decoder"

    def __init__(self, config: VAEConfig) -> None:
        self.config = config
        self.nets = {"encoder": Encoder(config), "decoder": Decoder(config)}

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        params = list(nets["encoder"].parameters()) + list(nets["decoder"].parameters())
        return {"vae": torch.optim.Adam(params, lr=lr)}

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        x = batch["images"]
        if self.config.hflip:
            x = random_hflip(x, ctx.generator)
        mu, logvar = nets["encoder"](x)
        eps = torch.randn(mu.shape, generator=ctx.generator, device=mu.device, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = nets["decoder"](z)
        recon = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="sum") / x.shape[0]
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        loss = recon + self.config.beta * kl
        return {"loss": loss, "recon": recon, "kl": kl}

    @torch.no_grad()
    def sample(self, nets: Mapping[str, nn.Module], generator: torch.Generator, n: int = 64,
               batch_size: int = 256) -> torch.Tensor:
        """(n, C, S, S) mean images in [0, 1] decoded from z ~ N(0, I)."""
        dec = nets["decoder"]
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=next(dec.parameters()).device)
        return self.decode(nets, z, batch_size)

    @torch.no_grad()
    def decode(self, nets: Mapping[str, nn.Module], z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        return torch.cat([torch.sigmoid(nets["decoder"](c)) for c in z.split(batch_size)])

    @torch.no_grad()
    def encode(self, nets: Mapping[str, nn.Module], images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Posterior means (N, latent_dim) of images (N, C, S, S) in [0, 1]."""
        return torch.cat([nets["encoder"](c)[0] for c in images.split(batch_size)])
