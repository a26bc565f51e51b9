"""WGAN-GP (Gulrajani et al. 2017): Wasserstein critic with a gradient penalty, no batch norm in
the critic, 5 critic updates per generator update, Adam(lr 1e-4, betas (0, 0.9))."""

from __future__ import annotations

from dataclasses import dataclass

from aigc.image_gen.gan import AdversarialObjective, GANConfig

__all__ = ["WGANGPConfig", "WGANGPObjective"]


@dataclass(kw_only=True)
class WGANGPConfig(GANConfig):
    loss: str = "wgan"
    d_norm: str = "none"  # the penalty is per-sample, so no batch norm in the critic (sec. 4)
    n_critic: int = 5  # Algorithm 1
    gp_weight: float = 10.0  # lambda = 10 (Algorithm 1)
    beta1: float = 0.0  # Adam(alpha=1e-4, beta1=0, beta2=0.9) (Algorithm 1)
    beta2: float = 0.9


class WGANGPObjective(AdversarialObjective):
    config_class = WGANGPConfig
    default_lr = 1e-4
    default_batch_size = 64 * 5  # split into 5 critic chunks of 64 (m = 64 in the paper)
