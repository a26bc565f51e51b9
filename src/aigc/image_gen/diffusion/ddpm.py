"""DDPM (Ho et al. 2020): train a U-Net to predict the noise added at a random timestep
(the "simple" loss, eq. 14); sample with DDIM (Song et al. 2021) in a chosen number of steps.

Class conditioning uses classifier-free guidance (Ho & Salimans 2022): labels are replaced by the
"null" class with probability ``cond_drop`` = 0.1 in training, and sampling mixes the two
predictions as eps = eps(x, null) + s * (eps(x, y) - eps(x, null)), so s = 0 is the unconditional
model, s = 1 the plain conditional one and s > 1 strengthens the class (the default s = 3).

Inpainting conditions an unconditional sampling run on the known pixels (RePaint, Lugmayr et al.
2022): at every step the known region is replaced by the clean image noised to that step, with
``resample`` - 1 jumps back per step to harmonise the two regions (1 = the plain replacement method).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.data.transforms import random_hflip, to_signed
from aigc.image_gen.diagnostics import ClassHistogramProbe
from aigc.image_gen.diffusion.sampler import DiffusionSampler
from aigc.image_gen.diffusion.schedule import SCHEDULE_KINDS, NoiseSchedule
from aigc.image_gen.diffusion.unet import UNet, UNetConfig

__all__ = ["DDPMConfig", "DDPMObjective"]


@dataclass(kw_only=True)
class DDPMConfig:
    image_size: int = 32
    channels: int = 1
    features: int = 32
    mults: tuple[int, ...] = (1, 2, 2)
    attention_levels: tuple[int, ...] = (2,)
    num_res_blocks: int = 1
    dropout: float = 0.0
    timesteps: int = 1000  # T = 1000 (Ho et al. 2020)
    schedule_kind: str = "linear"  # "linear" (Ho et al. 2020) or "cosine" (Nichol & Dhariwal 2021)
    num_classes: int = 0  # > 0: class-conditional with classifier-free guidance
    cond_drop: float = 0.1  # label dropout p_uncond = 0.1 (Ho & Salimans 2022)
    guidance: float = 3.0  # default guidance scale s at sampling (see the module docstring)
    sample_steps: int = 50  # default DDIM steps
    sample_eta: float = 1.0  # default step noise: 1 = DDPM posterior, 0 = deterministic DDIM (see sampler.py)
    hflip: bool = False
    diag_features: str = ""
    diag_every: int = 0
    diag_samples: int = 200
    diag_steps: int = 20  # DDIM steps of the diagnostic samples

    def __post_init__(self) -> None:
        self.unet_config()  # validates the network fields
        # defaults larger than a short chain (e.g. --timesteps 20) shrink to it
        self.sample_steps, self.diag_steps = min(self.sample_steps, self.timesteps), min(self.diag_steps, self.timesteps)
        checks = [
            (self.schedule_kind in SCHEDULE_KINDS, f"schedule_kind must be one of {SCHEDULE_KINDS}"),
            (self.timesteps >= 2, f"timesteps must be >= 2, got {self.timesteps}"),
            (0 <= self.cond_drop < 1, f"cond_drop must be in [0, 1), got {self.cond_drop}"),
            (1 <= self.sample_steps <= self.timesteps, "sample_steps must be in 1..timesteps"),
            (1 <= self.diag_steps <= self.timesteps, "diag_steps must be in 1..timesteps"),
            (self.guidance >= 0, f"guidance must be >= 0, got {self.guidance}"),
            (0 <= self.sample_eta <= 1, f"sample_eta must be in [0, 1], got {self.sample_eta}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def unet_config(self) -> UNetConfig:
        return UNetConfig(image_size=self.image_size, channels=self.channels, features=self.features,
                          mults=tuple(self.mults), attention_levels=tuple(self.attention_levels),
                          num_res_blocks=self.num_res_blocks, dropout=self.dropout, num_classes=self.num_classes)


class DDPMObjective(ClassHistogramProbe):
    """Objective for the Trainer (noise-prediction MSE); sampling is the :class:`DiffusionSampler`'s."""

    config_class = DDPMConfig
    ema_networks = ("unet",)
    sampling_network = "unet"
    default_lr: float | None = None
    default_batch_size: int | None = None

    def __init__(self, config: DDPMConfig) -> None:
        self.config = config
        self.schedule = NoiseSchedule.from_name(config.schedule_kind, config.timesteps)
        self.nets = {"unet": UNet(config.unet_config())}

    def example_inputs(self, name: str, batch: int = 1) -> tuple[torch.Tensor, ...]:
        """``aigc export``: noisy images (B, C, S, S), timesteps (B,) and, when class-conditional,
        labels (B,) for the U-Net."""
        if name != "unet":
            raise KeyError(name)
        c, g = self.config, torch.Generator().manual_seed(0)
        x = torch.randn(batch, c.channels, c.image_size, c.image_size, generator=g)
        t = torch.randint(0, c.timesteps, (batch,), generator=g)
        labels = torch.randint(0, c.num_classes, (batch,), generator=g) if c.num_classes else None
        return (x, t) if labels is None else (x, t, labels)

    def _train_labels(self, batch: Mapping[str, torch.Tensor], ctx) -> torch.Tensor | None:
        k = self.config.num_classes
        if not k:
            return None
        if "labels" not in batch:
            raise BadInputError("a class-conditional DDPM needs labelled data (the batch has no labels)")
        labels = batch["labels"]
        drop = torch.rand(labels.shape, generator=ctx.generator, device=labels.device) < self.config.cond_drop
        return torch.where(drop, torch.full_like(labels, k), labels)

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        x0 = batch["images"]
        if self.config.hflip:
            x0 = random_hflip(x0, ctx.generator)
        x0 = to_signed(x0)
        labels = self._train_labels(batch, ctx)
        t = torch.randint(self.config.timesteps, (x0.shape[0],), generator=ctx.generator, device=x0.device)
        noise = torch.randn(x0.shape, generator=ctx.generator, device=x0.device)
        pred = nets["unet"](self.schedule.q_sample(x0, t, noise), t, labels)
        return {"loss": F.mse_loss(pred.float(), noise)}

    # ------------------------------------------------------------------ sampling (see sampler.py)
    @property
    def sampler(self) -> DiffusionSampler:
        return DiffusionSampler(self.schedule, num_classes=self.config.num_classes, image_shape=(
            self.config.channels, self.config.image_size, self.config.image_size),
            steps=self.config.sample_steps, guidance=self.config.guidance, eta=self.config.sample_eta)

    def sample(self, nets: Mapping[str, nn.Module], generator: torch.Generator, n: int = 64,
               batch_size: int = 256, labels: torch.Tensor | int | list[int] | None = None,
               steps: int | None = None, guidance: float | None = None, eta: float | None = None,
               progress: bool = False) -> torch.Tensor:
        """(n, C, S, S) images in [0, 1] by DDIM (:meth:`DiffusionSampler.sample`)."""
        return self.sampler.sample(nets["unet"], generator, n=n, batch_size=batch_size, labels=labels, steps=steps,
                                   guidance=guidance, eta=eta, progress=progress)

    def _diag_sample(self, nets, generator, n, labels):
        return self.sample(nets, generator, n=n, labels=labels, steps=self.config.diag_steps)

    def inpaint(self, nets: Mapping[str, nn.Module], images: torch.Tensor, mask: torch.Tensor,
                generator: torch.Generator, steps: int | None = None, resample: int = 2,
                labels: torch.Tensor | int | list[int] | None = None,
                guidance: float | None = None, eta: float | None = None, progress: bool = False) -> torch.Tensor:
        """RePaint-style inpainting (:meth:`DiffusionSampler.inpaint`)."""
        return self.sampler.inpaint(nets["unet"], images, mask, generator, steps=steps, resample=resample,
                                    labels=labels, guidance=guidance, eta=eta, progress=progress)
