"""Audio augmentation on batches: noise at a given SNR, gain, time shift, SpecAugment masks.

Pure functions of tensors with an explicit ``torch.Generator``; waves are (B, T), spectrograms
(B, bins, frames). Each draws per-example values, so one call augments a whole batch.
"""

from __future__ import annotations

import torch

from aigc.core.errors import BadInputError

__all__ = ["add_noise", "apply_gain", "random_uniform", "spec_augment", "time_shift"]


def random_uniform(n: int, low: float, high: float, generator: torch.Generator | None,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """(n,) values uniform in [low, high]."""
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def add_noise(wave: torch.Tensor, snr_db: float | torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add white Gaussian noise so each row's signal-to-noise ratio is exactly ``snr_db`` (dB).

    ``snr_db`` is a number or a (B,) tensor; silent rows stay silent.
    """
    if wave.ndim != 2:
        raise BadInputError(f"add_noise: expected (B, T) waves, got shape {tuple(wave.shape)}")
    noise = torch.randn(wave.shape, generator=generator, device=wave.device, dtype=wave.dtype)
    snr = torch.as_tensor(snr_db, dtype=wave.dtype, device=wave.device).reshape(-1, 1)
    p_signal = wave.pow(2).mean(dim=1, keepdim=True)
    p_noise = noise.pow(2).mean(dim=1, keepdim=True).clamp_min(1e-12)
    scale = torch.sqrt(p_signal / (p_noise * 10 ** (snr / 10)))
    return wave + scale * noise


def apply_gain(wave: torch.Tensor, gain_db: float | torch.Tensor) -> torch.Tensor:
    """Multiply each row by ``10 ** (gain_db / 20)`` (a number or a (B,) tensor)."""
    g = torch.as_tensor(gain_db, dtype=wave.dtype, device=wave.device)
    if g.ndim == 1:
        g = g.reshape(-1, *([1] * (wave.ndim - 1)))
    return wave * 10 ** (g / 20)


def time_shift(wave: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Delay each row by ``shifts[b]`` samples (negative = earlier), zero-filling the gap: (B, T)."""
    t = wave.shape[1]
    idx = torch.arange(t, device=wave.device)[None, :] - shifts.to(wave.device).long()[:, None]
    valid = (idx >= 0) & (idx < t)
    return torch.where(valid, wave.gather(1, idx.clamp(0, t - 1)), torch.zeros((), dtype=wave.dtype, device=wave.device))


def _mask(n: int, size: int, width: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """(n, size) boolean: one band of a random width in [0, width] at a random start per row."""
    w = torch.randint(0, width + 1, (n,), generator=generator, device=device)
    start = (torch.rand(n, generator=generator, device=device) * (size - w + 1).float()).long()
    pos = torch.arange(size, device=device)[None, :]
    return (pos >= start[:, None]) & (pos < (start + w)[:, None])


def spec_augment(spec: torch.Tensor, *, freq_width: int = 8, time_width: int = 10, n_freq: int = 1,
                 n_time: int = 1, value: float | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """SpecAugment masks (Park et al. 2019): ``n_freq`` frequency bands of up to ``freq_width`` bins
    and ``n_time`` time bands of up to ``time_width`` frames set to ``value`` (default: each
    example's mean) in (B, bins, frames) spectrograms."""
    if spec.ndim != 3:
        raise BadInputError(f"spec_augment: expected (B, bins, frames), got shape {tuple(spec.shape)}")
    b, f, t = spec.shape
    masked = torch.zeros(b, f, t, dtype=torch.bool, device=spec.device)
    for _ in range(n_freq):
        masked |= _mask(b, f, min(freq_width, f), generator, spec.device)[:, :, None]
    for _ in range(n_time):
        masked |= _mask(b, t, min(time_width, t), generator, spec.device)[:, None, :]
    fill = spec.mean(dim=(1, 2), keepdim=True) if value is None else torch.full_like(spec[:, :1, :1], value)
    return torch.where(masked, fill.expand_as(spec), spec)
