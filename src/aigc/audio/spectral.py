"""Log-mel spectrograms and their inverse (mel -> linear magnitude -> Griffin-Lim) in torch.

The conventions are librosa's defaults, so a test can hold them to librosa: a periodic Hann
window, ``center=True`` with zero padding, the Slaney mel scale with Slaney area normalisation
(``librosa.filters.mel``), power 2, and fast Griffin-Lim with momentum 0.99 (Perraudin et al. 2013).
Waves are (T,) or (B, T) float tensors; spectrograms (..., bins, frames).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from aigc.core.errors import BadInputError

__all__ = [
    "MelConfig",
    "griffin_lim",
    "log_mel",
    "log_mel_to_wave",
    "mel_filterbank",
    "mel_spectrogram",
    "mel_to_magnitude",
    "spectral_snr",
    "stft_magnitude",
]


@dataclass(kw_only=True)
class MelConfig:
    """How waves become log-mels. The defaults suit 8 kHz speech (FSDD): 64 ms windows, 16 ms hop."""

    sample_rate: int = 8000
    n_fft: int = 512
    hop: int = 128
    n_mels: int = 40
    fmin: float = 0.0
    fmax: float | None = None  # None = sample_rate / 2
    floor: float = 1e-5  # log(max(mel, floor)): -11.5 nats is silence

    def __post_init__(self) -> None:
        if self.n_fft < 16 or self.hop < 1 or self.hop > self.n_fft or self.n_mels < 1:
            raise BadInputError(f"mel settings: need n_fft >= 16, 1 <= hop <= n_fft, n_mels >= 1; "
                                f"got n_fft={self.n_fft}, hop={self.hop}, n_mels={self.n_mels}")

    def frames(self, samples: int) -> int:
        """Frames of a ``samples``-long wave (centred STFT)."""
        return 1 + samples // self.hop


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's auditory toolbox scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep = math.log(6.4) / 27.0
    mels = f / f_sp
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, mels)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(cfg: MelConfig) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters, Slaney-normalised (equal area)."""
    fmax = cfg.fmax if cfg.fmax is not None else cfg.sample_rate / 2
    fft_freqs = np.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(fmax), cfg.n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:cfg.n_mels + 2] - mel_f[:cfg.n_mels]))[:, None]
    return torch.from_numpy(weights.astype(np.float32))


def _window(cfg: MelConfig, like: torch.Tensor) -> torch.Tensor:
    return torch.hann_window(cfg.n_fft, periodic=True, dtype=like.dtype, device=like.device)


def _stft(wave: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    return torch.stft(wave, cfg.n_fft, cfg.hop, window=_window(cfg, wave), center=True,
                      pad_mode="constant", return_complex=True)


def stft_magnitude(wave: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """(..., T) -> (..., n_fft // 2 + 1, frames) magnitude."""
    return _stft(wave, cfg).abs()


def mel_spectrogram(wave: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """(..., T) -> (..., n_mels, frames) mel power spectrogram (librosa.feature.melspectrogram)."""
    power = stft_magnitude(wave, cfg) ** 2
    return torch.matmul(mel_filterbank(cfg).to(power), power)


def log_mel(wave: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """(..., T) -> (..., n_mels, frames) natural-log mel power, floored at ``cfg.floor``."""
    return mel_spectrogram(wave, cfg).clamp_min(cfg.floor).log()


def mel_to_magnitude(mel: torch.Tensor, cfg: MelConfig, iters: int = 200) -> torch.Tensor:
    """Mel power (..., n_mels, F) -> linear magnitude (..., bins, F).

    Non-negative least squares as librosa's ``mel_to_stft``, solved by projected gradient from the
    clamped pseudo-inverse (``iters`` steps with the 1/L step size of the filterbank's Gram matrix).
    """
    fb = mel_filterbank(cfg).to(mel)
    power = (torch.linalg.pinv(fb) @ mel).clamp_min(0)
    gram = fb.T @ fb
    step = 1.0 / float(torch.linalg.matrix_norm(gram, ord=2))
    target = fb.T @ mel
    for _ in range(iters):
        power = (power - step * (gram @ power - target)).clamp_min(0)
    return power.sqrt()


def griffin_lim(magnitude: torch.Tensor, cfg: MelConfig, *, n_iter: int = 32, momentum: float = 0.99,
                length: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fast Griffin-Lim (librosa.griffinlim): (..., bins, F) magnitude -> (..., T) wave.

    Phases start at 0 (librosa's ``init=None``), or uniformly random from ``generator``.
    """
    if magnitude.shape[-2] != cfg.n_fft // 2 + 1:
        raise BadInputError(f"Griffin-Lim: {magnitude.shape[-2]} frequency bins, expected {cfg.n_fft // 2 + 1}")
    mag = magnitude
    if generator is not None:
        phase = torch.rand(mag.shape, generator=generator, device=mag.device, dtype=mag.dtype) * (2 * math.pi)
        angles = torch.polar(torch.ones_like(mag), phase)
    else:
        angles = torch.ones_like(mag, dtype=torch.complex64 if mag.dtype != torch.float64 else torch.complex128)
    window = _window(cfg, mag)
    length = length if length is not None else cfg.hop * (mag.shape[-1] - 1)
    flat_shape = mag.shape[:-2]

    def istft(spec: torch.Tensor) -> torch.Tensor:
        s = spec.reshape(-1, *spec.shape[-2:])
        out = torch.istft(s, cfg.n_fft, cfg.hop, window=window, center=True, length=length)
        return out.reshape(*flat_shape, -1)

    rebuilt = torch.zeros_like(angles)
    eps = torch.finfo(mag.dtype).tiny
    for _ in range(n_iter):
        prev = rebuilt
        rebuilt = _stft(istft(mag * angles), cfg)
        angles = rebuilt - (momentum / (1 + momentum)) * prev
        angles = angles / (angles.abs() + eps)
    return istft(mag * angles)


def log_mel_to_wave(logmel: torch.Tensor, cfg: MelConfig, *, n_iter: int = 32, length: int | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Vocode a natural-log mel power spectrogram: exp -> NNLS magnitude -> Griffin-Lim."""
    magnitude = mel_to_magnitude(logmel.exp(), cfg)
    return griffin_lim(magnitude, cfg, n_iter=n_iter, length=length, generator=generator)


def spectral_snr(reference: torch.Tensor, estimate: torch.Tensor, cfg: MelConfig) -> float:
    """SNR (dB) of the STFT magnitude of ``estimate`` against that of ``reference``.

    Griffin-Lim recovers a magnitude, not the original phase (a sign flip or a sub-sample delay is
    inaudible but ruins a waveform SNR), so its reconstruction is judged on magnitudes.
    """
    a, b = stft_magnitude(reference.double(), cfg), stft_magnitude(estimate.double(), cfg)
    return float(10 * torch.log10(a.pow(2).sum() / (a - b).pow(2).sum().clamp_min(1e-20)))
