"""Noise schedules of denoising diffusion (a plain class, separate from any network).

``linear``: beta from 1e-4 to 0.02 over T = 1000 steps (Ho et al. 2020), both ends scaled by 1000/T
for other T so the total noise stays comparable (Nichol & Dhariwal 2021, appendix). ``cosine``:
alpha_bar(t) = cos^2((t/T + s)/(1 + s) * pi/2) with s = 0.008, betas clipped at 0.999 (Nichol &
Dhariwal 2021, eq. 17).
"""

from __future__ import annotations

import math

import torch

from aigc.core.errors import BadInputError

__all__ = ["NoiseSchedule", "SCHEDULE_KINDS"]

SCHEDULE_KINDS = ("linear", "cosine")


class NoiseSchedule:
    """Holds ``alphas_cumprod`` (T,) in float64; tensors passed in are (B, C, H, W), t is (B,) long."""

    def __init__(self, betas: torch.Tensor) -> None:
        betas = betas.double()
        if betas.ndim != 1 or not ((betas > 0) & (betas < 1)).all():
            raise BadInputError("betas must be a 1-d tensor with values in (0, 1)")
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)

    @property
    def timesteps(self) -> int:
        return int(self.betas.numel())

    @classmethod
    def linear(cls, timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> "NoiseSchedule":
        scale = 1000.0 / timesteps
        return cls(torch.linspace(beta_start * scale, min(0.999, beta_end * scale), timesteps, dtype=torch.float64))

    @classmethod
    def cosine(cls, timesteps: int = 1000, s: float = 0.008) -> "NoiseSchedule":
        steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        betas = 1.0 - f[1:] / f[:-1]
        return cls(betas.clamp(max=0.999))

    @classmethod
    def from_name(cls, kind: str, timesteps: int) -> "NoiseSchedule":
        if timesteps < 2:
            raise BadInputError(f"timesteps must be >= 2, got {timesteps}")
        if kind not in SCHEDULE_KINDS:
            raise BadInputError(f"unknown noise schedule {kind!r}; choose one of {SCHEDULE_KINDS}")
        return getattr(cls, kind)(timesteps)

    def alpha_bar(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar at (B,) timesteps, shaped (B, 1, 1, 1) like ``like``; t = -1 gives 1 (clean)."""
        t = t.long().cpu()
        a = torch.where(t >= 0, self.alphas_cumprod[t.clamp(min=0)], torch.ones_like(t, dtype=torch.float64))
        return a.to(device=like.device, dtype=like.dtype).view(-1, *([1] * (like.ndim - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t ~ q(x_t | x_0) = N(sqrt(a_t) x_0, (1 - a_t) I) with the given ``noise``."""
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def sampling_timesteps(self, steps: int) -> list[int]:
        """``steps`` evenly spaced timesteps from T-1 down to 0 (the DDIM sub-sequence tau)."""
        if not 1 <= steps <= self.timesteps:
            raise BadInputError(f"steps must be between 1 and {self.timesteps} (the model's timesteps), got {steps}")
        ts = torch.linspace(self.timesteps - 1, 0, steps, dtype=torch.float64).round().long().tolist()
        return ts

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.alpha_bar(t, x_t)
        return (x_t - (1 - a).sqrt() * eps) / a.sqrt()

    def ddim_step(self, x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, t_prev: torch.Tensor,
                  eta: float = 0.0, noise: torch.Tensor | None = None, clip: bool = True) -> torch.Tensor:
        """One DDIM update x_t -> x_{t_prev} (Song et al. 2021, eq. 12); eta = 0 is deterministic,
        eta = 1 the DDPM posterior. ``clip`` clamps the predicted x_0 to [-1, 1] (data range)."""
        a, a_prev = self.alpha_bar(t, x_t), self.alpha_bar(t_prev, x_t)
        x0 = self.predict_x0(x_t, eps, t)
        if clip:
            x0 = x0.clamp(-1.0, 1.0)
            eps = (x_t - a.sqrt() * x0) / (1 - a).sqrt()
        sigma = eta * ((1 - a_prev) / (1 - a) * (1 - a / a_prev)).clamp(min=0).sqrt()
        out = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps
        if eta > 0:
            if noise is None:
                raise ValueError("eta > 0 needs noise")
            out = out + sigma * noise
        return out

    def renoise(self, x_prev: torch.Tensor, t_prev: torch.Tensor, t: torch.Tensor,
                noise: torch.Tensor) -> torch.Tensor:
        """Sample q(x_t | x_{t_prev}) for t > t_prev: the jump back of RePaint (Lugmayr et al. 2022)."""
        ratio = self.alpha_bar(t, x_prev) / self.alpha_bar(t_prev, x_prev)
        return ratio.sqrt() * x_prev + (1 - ratio).sqrt() * noise
