"""SN-GAN (Miyato et al. 2018): hinge loss with spectral normalisation on every discriminator layer."""

from __future__ import annotations

from dataclasses import dataclass

from aigc.image_gen.gan import AdversarialObjective, GANConfig

__all__ = ["SNGANConfig", "SNGANObjective"]


@dataclass(kw_only=True)
class SNGANConfig(GANConfig):
    loss: str = "hinge"
    d_norm: str = "spectral"
    beta1: float = 0.5  # Adam(2e-4, 0.5, 0.999), n_dis = 1: setting (C) of Miyato et al. 2018, table 1
    beta2: float = 0.999


class SNGANObjective(AdversarialObjective):
    config_class = SNGANConfig
