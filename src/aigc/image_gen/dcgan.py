"""DCGAN (Radford, Metz & Chintala 2015) with the non-saturating GAN loss (Goodfellow et al. 2014).

The networks and the training step are the GAN family's (``gan.py``): DCGAN is its case with the
``ns`` loss and batch norm in both networks.
"""

from __future__ import annotations

from dataclasses import dataclass

from aigc.image_gen.gan import AdversarialObjective, GANConfig

__all__ = ["DCGANConfig", "DCGANObjective"]


@dataclass(kw_only=True)
class DCGANConfig(GANConfig):
    loss: str = "ns"
    d_norm: str = "batch"
    beta1: float = 0.5  # Adam beta1 = 0.5 stabilises GAN training (Radford et al. 2015, sec. 4)


class DCGANObjective(AdversarialObjective):
    config_class = DCGANConfig
