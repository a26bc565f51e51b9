"""Convolutional VAE (Kingma & Welling 2014) with a Bernoulli-style likelihood on [0, 1] pixels;
class-conditional (CVAE, Sohn et al. 2015) with ``num_classes`` > 0: the encoder's head and the
decoder's input also take the one-hot label, and sampling draws z ~ N(0, I) for the asked class.

Sampling an unconditional VAE from N(0, I) decodes many latents the encoder never produced (the
"holes" between the aggregate posterior's clusters): blurred hybrids of digits. After training,
``fit_prior`` fits a Gaussian mixture of ``prior_components`` to the training images' posterior
means (the ex-post density estimation of Ghosh et al. 2020) and sampling draws from it. On MNIST at
32 px (1800 CPU-s, 5000 samples, domain-CNN features): FID 36.7 from N(0, I) -> 8.7 with 20
components, and every class within 5-15 % of the samples (9 of 10 from N(0, I)). The mixture lives
in the decoder's ``prior`` buffers (model.safetensors); directories written before it, and models
trained with DP-SGD (a fit on the raw data would spend privacy unaccounted), sample from N(0, I).
"""

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

__all__ = ["VAEConfig", "Encoder", "Decoder", "LatentPrior", "VAEObjective"]


@dataclass(kw_only=True)
class VAEConfig:
    image_size: int = 32
    channels: int = 1
    latent_dim: int = 16
    features: int = 128  # channels at the 4x4 bottleneck
    beta: float = 1.0  # weight of the KL term (beta-VAE, Higgins et al. 2017); 1 = the ELBO
    prior_components: int = 20  # Gaussian mixture fitted to the latents after training; 0 = sample N(0, I)
    hflip: bool = False
    num_classes: int = 0  # > 0: class-conditional (set from the data by `aigc train image-gen --cond`)

    def __post_init__(self) -> None:
        num_doublings(self.image_size)
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.latent_dim < 1 or self.features < 16 or self.beta < 0 or self.num_classes < 0:
            raise ValueError("latent_dim >= 1, features >= 16, beta >= 0 and num_classes >= 0 are required")
        if not 0 <= self.prior_components <= 1000:
            raise ValueError(f"prior_components must be in 0..1000, got {self.prior_components}")


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


class LatentPrior(nn.Module):
    """A Gaussian mixture over z held in buffers: ``weights`` (K,), ``means`` (K, D) and the
    Cholesky factors ``scale_tril`` (K, D, D) of the covariances. All-zero weights = not fitted
    (then :meth:`sample` draws N(0, I)); a state dict without these keys (a model directory
    written before the mixture existed) loads as not fitted."""

    def __init__(self, latent_dim: int, components: int) -> None:
        super().__init__()
        k = max(components, 1)
        self.register_buffer("weights", torch.zeros(k))
        self.register_buffer("means", torch.zeros(k, latent_dim))
        self.register_buffer("scale_tril", torch.eye(latent_dim).repeat(k, 1, 1))

    @property
    def fitted(self) -> bool:
        return bool(self.weights.sum() > 0)

    def set(self, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor) -> None:
        k = weights.shape[0]
        if means.shape != self.means[:k].shape or k > self.weights.shape[0]:
            raise ValueError(f"a mixture of {k} components in {means.shape[-1]} dimensions does not fit "
                             f"{tuple(self.means.shape)}")
        self.weights.zero_()
        self.weights[:k] = weights.to(self.weights) / weights.sum()
        self.means[:k] = means.to(self.means)
        self.scale_tril[:k] = torch.linalg.cholesky(covariances.to(self.scale_tril))

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, D) latents: from the mixture when fitted, else from N(0, I)."""
        device = self.means.device
        eps = torch.randn(n, self.means.shape[1], generator=generator, device=device)
        if not self.fitted:
            return eps
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        return self.means[k] + (self.scale_tril[k] @ eps.unsqueeze(-1)).squeeze(-1)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        names = ("weights", "means", "scale_tril")
        if not any(prefix + n in state_dict for n in names):
            return  # written before the mixture: stay not fitted (N(0, I))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class Decoder(nn.Module):
    """z (B, latent_dim) [, labels (B,)] -> pixel logits (B, C, S, S); ``sigmoid`` gives the mean image.
    ``prior`` holds the latent mixture that sampling draws z from (see the module docstring)."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        w, self.num_classes = config.features, config.num_classes
        self.project = nn.Sequential(nn.Linear(config.latent_dim + config.num_classes, w * 16),
                                     nn.Unflatten(1, (w, 4, 4)), nn.ReLU(True))
        self.body = up_stack(w, config.channels, num_doublings(config.image_size), norm=False)
        self.prior = LatentPrior(config.latent_dim, config.prior_components)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(self.project(_with_label(z, labels, self.num_classes)))


def _unwrap(net: nn.Module) -> nn.Module:
    """The module itself under a DDP / Opacus wrapper (which keep it as ``.module``/``._module``)."""
    while not isinstance(net, Decoder) and (inner := getattr(net, "module", None) or getattr(net, "_module", None)):
        net = inner
    return net


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
        """(n, C, S, S) mean images in [0, 1] decoded from z drawn from the fitted latent mixture,
        or N(0, I) without one (for ``labels``: one class, one per image, or uniform draws when
        None, on a conditional model)."""
        device = next(nets["decoder"].parameters()).device
        y = sample_labels(labels, n, self.config.num_classes, generator, device)
        z = _unwrap(nets["decoder"]).prior.sample(n, generator)
        return self.decode(nets, z, batch_size, labels=y)

    @torch.no_grad()
    def fit_prior(self, nets: Mapping[str, nn.Module], images: torch.Tensor, seed: int = 0,
                  batch_size: int = 512) -> dict[str, float]:
        """Fit the decoder's latent mixture to the posterior means of ``images`` (N, C, S, S) in
        [0, 1] (scikit-learn's EM, full covariances); returns figures to report. Unconditional
        models only: a conditional one samples N(0, I) for the asked class. Fewer than two images
        per component fit fewer components (fewer than two images: none)."""
        from sklearn.mixture import GaussianMixture

        k = min(self.config.prior_components, images.shape[0] // 2)  # at least two images per component
        if k < 1 or self.config.num_classes:
            return {}
        device = next(nets["encoder"].parameters()).device
        z = torch.cat([nets["encoder"](b.to(device))[0].float().cpu() for b in images.split(batch_size)]).double()
        gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-6, random_state=seed, max_iter=200)
        gm.fit(z.numpy())
        _unwrap(nets["decoder"]).prior.set(torch.from_numpy(gm.weights_), torch.from_numpy(gm.means_),
                                          torch.from_numpy(gm.covariances_))
        return {"prior_components": k, "prior_mean_loglik": float(gm.score(z.numpy()))}

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
