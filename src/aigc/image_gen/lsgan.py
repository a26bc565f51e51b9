"""LSGAN (Mao et al. 2017): least-squares losses with the 0-1 coding a=0, b=1, c=1 (eq. 9)."""

from __future__ import annotations

from dataclasses import dataclass

from aigc.image_gen.gan import AdversarialObjective, GANConfig

__all__ = ["LSGANConfig", "LSGANObjective"]


@dataclass(kw_only=True)
class LSGANConfig(GANConfig):
    loss: str = "lsgan"
    d_norm: str = "batch"
    beta1: float = 0.5  # Adam(beta1 0.5) as in the paper's experiments (sec. 4.1)


class LSGANObjective(AdversarialObjective):
    config_class = LSGANConfig
