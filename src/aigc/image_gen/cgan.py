"""Class-conditional GAN: conditional batch norm in the generator, projection discriminator
(Miyato & Koyama 2018) with spectral norm and the hinge loss, as in their experiments."""

from __future__ import annotations

from dataclasses import dataclass

from aigc.image_gen.gan import AdversarialObjective, GANConfig

__all__ = ["CGANConfig", "CGANObjective"]


@dataclass(kw_only=True)
class CGANConfig(GANConfig):
    num_classes: int = 10  # set from the data's class names by `aigc train`
    loss: str = "hinge"
    d_norm: str = "spectral"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_classes < 2:
            raise ValueError(f"a class-conditional GAN needs num_classes >= 2, got {self.num_classes}")


class CGANObjective(AdversarialObjective):
    config_class = CGANConfig
