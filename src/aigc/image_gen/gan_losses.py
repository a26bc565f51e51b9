"""GAN objectives as plain functions of discriminator outputs (logits / critic scores, shape (B,)).

* ``ns``     — non-saturating GAN loss (Goodfellow et al. 2014)
* ``wgan``   — Wasserstein critic loss (Arjovsky et al. 2017), used with :func:`gradient_penalty`
               (Gulrajani et al. 2017)
* ``hinge``  — hinge loss (Lim & Ye 2017; Miyato et al. 2018 with spectral norm)
* ``lsgan``  — least squares with targets a=0 (fake), b=1 (real), c=1 (G) (Mao et al. 2017, eq. 9)
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

__all__ = ["LOSSES", "d_loss", "g_loss", "gradient_penalty"]

LOSSES = ("ns", "wgan", "hinge", "lsgan")


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Discriminator (critic) loss to minimise, from its outputs on real and fake images (B,).

    ``real_target`` < 1 is one-sided label smoothing for the ``ns`` loss (Salimans et al. 2016).
    """
    real, fake = real.float(), fake.float()
    if kind == "ns":
        return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_target))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if kind == "wgan":
        return fake.mean() - real.mean()
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "lsgan":
        return 0.5 * ((real - 1.0).pow(2).mean() + fake.pow(2).mean())
    raise ValueError(f"unknown GAN loss {kind!r}; choose one of {LOSSES}")


def g_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """Generator loss to minimise, from the discriminator's outputs on fake images (B,)."""
    fake = fake.float()
    if kind == "ns":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind in ("wgan", "hinge"):  # hinge G loss is -D(G(z)) (Lim & Ye 2017)
        return -fake.mean()
    if kind == "lsgan":
        return 0.5 * (fake - 1.0).pow(2).mean()
    raise ValueError(f"unknown GAN loss {kind!r}; choose one of {LOSSES}")


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat on random lines between real and fake (B, C, H, W).

    Gulrajani et al. 2017, Algorithm 1. Computed in fp32 with ``create_graph=True`` so the penalty
    itself can be backpropagated into the critic's parameters.
    """
    eps = torch.rand(real.shape[0], 1, 1, 1, generator=generator, device=real.device)
    x_hat = (eps * real.detach().float() + (1 - eps) * fake.detach().float()).requires_grad_(True)
    with torch.autocast(real.device.type, enabled=False):
        scores = critic(x_hat).float()
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1.0).pow(2).mean()
