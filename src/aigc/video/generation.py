"""The clip-generation objective (class-conditional diffusion over 32x32 x 16-frame clips of one
moving digit) and its deterministic DDIM sampler (Song et al. 2021, eta = 0) with classifier-free
guidance. The network and the schedule are in :mod:`aigc.video.diffusion`."""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.video.defaults import GUIDANCE
from aigc.video.diffusion import ClipDenoiser, ClipDiffusionConfig, CosineSchedule
from aigc.video.objectives import VideoObjective, pooled_clips

__all__ = ["ClipDiffusionObjective", "ddim_sample", "MAX_STEPS", "GUIDANCE"]

MAX_STEPS = 1000


class ClipDiffusionObjective(VideoObjective):
    """Noise-prediction loss on clips rendered from one-digit Moving MNIST recipes."""

    config_class = ClipDiffusionConfig
    network_class = ClipDenoiser
    kind = "generation"
    digits_per_clip = 1

    def __init__(self, config: ClipDiffusionConfig) -> None:
        super().__init__(config)
        self.schedule = CosineSchedule(config.timesteps)

    @property
    def frames_needed(self) -> int:
        return self.config.frames

    def clips(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """(B, T, 1, S, S) clips in [-1, 1] (the diffusion's data range)."""
        return pooled_clips(batch, self.config.frames, self.config.image_size) * 2 - 1

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        x0 = self.clips(batch)
        b, gen = x0.shape[0], ctx.generator
        t = torch.randint(0, self.config.timesteps, (b,), generator=gen, device=gen.device).to(x0.device)
        eps = torch.randn(x0.shape, generator=gen, device=gen.device).to(x0.device)
        labels = None
        if self.config.num_classes:
            labels = batch["labels"][:, 0].long().clamp(min=0)
            drop = torch.rand(b, generator=gen, device=gen.device).to(x0.device) < self.config.p_uncond
            labels = torch.where(drop, torch.full_like(labels, self.config.num_classes), labels)
        pred = nets["model"](self.schedule.noise(x0, t, eps), t, labels)
        return {"loss": F.mse_loss(pred, x0 if self.config.target == "x0" else eps)}

    @torch.no_grad()
    def generate(self, nets: Mapping[str, nn.Module], generator: torch.Generator, *, n: int,
                 labels: torch.Tensor | None, frames: int, steps: int, guidance: float,
                 eta: float = 0.0) -> torch.Tensor:
        """(n, frames, C, S, S) clips in [0, 1]."""
        cfg = self.config
        shape = (n, frames, cfg.channels, cfg.image_size, cfg.image_size)
        x = ddim_sample(nets["model"], self.schedule, shape, generator, labels=labels, steps=steps,
                        guidance=guidance, uncond_label=cfg.num_classes, target=cfg.target, eta=eta)
        return ((x + 1) / 2).clamp(0, 1)


def ddim_sample(net: nn.Module, schedule: CosineSchedule, shape: tuple[int, ...], generator: torch.Generator,
                *, labels: torch.Tensor | None, steps: int, guidance: float, uncond_label: int,
                target: str = "eps", eta: float = 0.0) -> torch.Tensor:
    """DDIM (Song et al. 2021) from Gaussian noise drawn with ``generator``. ``net`` predicts
    ``target`` ("eps" or "x0"); with ``labels`` and ``guidance != 1`` the prediction is
    p_u + guidance (p_c - p_u) (classifier-free guidance, applied to either target). ``eta`` scales
    the noise added back at each step (eq. 16): 0 is deterministic, 1 the DDPM posterior's variance;
    that noise also comes from ``generator``, so a seed still fixes the clips."""
    if not 1 <= steps <= min(MAX_STEPS, schedule.timesteps):
        raise BadInputError(f"--steps must be between 1 and {min(MAX_STEPS, schedule.timesteps)}, got {steps}")
    if not 0.0 <= eta <= 1.0:
        raise BadInputError(f"--eta must be between 0 (deterministic DDIM) and 1 (DDPM noise), got {eta}")
    device = next(net.parameters()).device
    x = torch.randn(shape, generator=generator, device=generator.device).to(device)
    ts = torch.linspace(schedule.timesteps - 1, 0, steps).round().long().tolist()
    ab = schedule.alpha_bar.to(device)
    guided = labels is not None and guidance != 1.0
    for i, t in enumerate(ts):
        tt = torch.full((shape[0],), t, dtype=torch.long, device=device)
        if guided:
            none = torch.full_like(labels, uncond_label)
            both = net(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, none]))
            cond, uncond = both.chunk(2)
            pred = uncond + guidance * (cond - uncond)
        else:
            pred = net(x, tt, labels)
        x0 = pred if target == "x0" else (x - (1 - ab[t]).sqrt() * pred) / ab[t].sqrt()
        x0 = x0.clamp(-1, 1)
        prev = ab[ts[i + 1]] if i + 1 < len(ts) else torch.ones((), device=device)
        eps = (x - ab[t].sqrt() * x0) / (1 - ab[t]).sqrt()  # consistent with the clamped x0
        sigma = eta * ((1 - prev) / (1 - ab[t]) * (1 - ab[t] / prev)).clamp(min=0).sqrt()
        x = prev.sqrt() * x0 + (1 - prev - sigma**2).clamp(min=0).sqrt() * eps
        if eta > 0 and i + 1 < len(ts):
            x = x + sigma * torch.randn(shape, generator=generator, device=generator.device).to(device)
    return x
