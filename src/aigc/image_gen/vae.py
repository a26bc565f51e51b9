"""Convolutional VAE (Kingma & Welling 2014) with a Bernoulli-style likelihood on [0, 1] pixels;
class-conditional (CVAE, Sohn et al. 2015) with ``num_classes`` > 0: the encoder's head and the
decoder's input also take the one-hot label, and sampling draws z ~ N(0, I) for the asked class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.data.transforms import random_hflip
from aigc.image_gen.blocks import down_stack, num_doublings, up_stack
from aigc.image_gen.gan import sample_labels
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
    num_classes: int = 0  # > 0: class-conditional (set from the data by `aigc train image-gen --cond`)

    def __post_init__(self) -> None:
        num_doublings(self.image_size)
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.latent_dim < 1 or self.features < 16 or self.beta < 0 or self.num_classes < 0:
            raise ValueError("latent_dim >= 1, features >= 16, beta >= 0 and num_classes >= 0 are required")


def _with_label(h: torch.Tensor, labels: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """``h`` with the one-hot ``labels`` appended (conditional models), else ``h``."""
    if not num_classes:
        return h
    if labels is None:
        raise BadInputError("a class-conditional VAE needs labels (train with --cond, generate with --label)")
    return torch.cat([h, F.one_hot(labels, num_classes).to(h.dtype)], dim=1)


class Encoder(nn.Module):
    """images (B, C, S, S) in [0, 1] [, labels (B,)] -> (mu, logvar), each (B, latent_dim)."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.num_classes = config.num_classes
        self.body, ch = down_stack(config.channels, config.features, num_doublings(config.image_size), norm=False)
        self.head = nn.Linear(ch * 16 + config.num_classes, 2 * config.latent_dim)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = _with_label(self.body(x * 2 - 1).flatten(1), labels, self.num_classes)
        mu, logvar = self.head(h).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)


class Decoder(nn.Module):
    """z (B, latent_dim) [, labels (B,)] -> pixel logits (B, C, S, S); ``sigmoid`` gives the mean image."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        w, self.num_classes = config.features, config.num_classes
        self.project = nn.Sequential(nn.Linear(config.latent_dim + config.num_classes, w * 16),
                                     nn.Unflatten(1, (w, 4, 4)), nn.ReLU(True))
        self.body = up_stack(w, config.channels, num_doublings(config.image_size), norm=False)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(self.project(_with_label(z, labels, self.num_classes)))


class VAEObjective(NetworksObjective):
    """Objective: negative ELBO per image = reconstruction (BCE summed over pixels) + beta * KL."""

    config_class = VAEConfig
    ema_networks: tuple[str, ...] = ()
    sampling_network = "decoder"
    # both read the training images (the decoder through the reconstruction term): DP-SGD makes both private
    data_networks = ("encoder", "decoder")

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
        labels = batch["labels"] if self.config.num_classes else None
        mu, logvar = nets["encoder"](x, labels)
        eps = torch.randn(mu.shape, generator=ctx.generator, device=mu.device, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = nets["decoder"](z, labels)
        recon = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="sum") / x.shape[0]
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        loss = recon + self.config.beta * kl
        return {"loss": loss, "recon": recon, "kl": kl}

    @torch.no_grad()
    def sample(self, nets: Mapping[str, nn.Module], generator: torch.Generator, n: int = 64,
               batch_size: int = 256, labels: torch.Tensor | int | list[int] | None = None) -> torch.Tensor:
        """(n, C, S, S) mean images in [0, 1] decoded from z ~ N(0, I) (for ``labels``: one class,
        one per image, or uniform draws when None, on a conditional model)."""
        device = next(nets["decoder"].parameters()).device
        y = sample_labels(labels, n, self.config.num_classes, generator, device)
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=device)
        return self.decode(nets, z, batch_size, labels=y)

    @torch.no_grad()
    def decode(self, nets: Mapping[str, nn.Module], z: torch.Tensor, batch_size: int = 256,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        ys = labels.split(batch_size) if labels is not None else [None] * len(z.split(batch_size))
        return torch.cat([torch.sigmoid(nets["decoder"](c, y)) for c, y in zip(z.split(batch_size), ys)])

    @torch.no_grad()
    def encode(self, nets: Mapping[str, nn.Module], images: torch.Tensor, batch_size: int = 256,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        """Posterior means (N, latent_dim) of images (N, C, S, S) in [0, 1] (and their labels, conditional)."""
        ys = labels.split(batch_size) if labels is not None else [None] * len(images.split(batch_size))
        return torch.cat([nets["encoder"](c, y)[0] for c, y in zip(images.split(batch_size), ys)])
