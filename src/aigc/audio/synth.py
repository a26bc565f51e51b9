"""Mel-spectrogram diffusion conditioned on digit and speaker, vocoded by Griffin-Lim.

Why this: FSDD has 2,700 training clips; a denoising diffusion model (Ho et al. 2020) trains
stably on so little data with one MSE loss (no discriminator to balance), classifier-free guidance
(Ho & Salimans 2022) trades diversity for conditional accuracy with one knob at sampling time, and
the same network samples unconditionally (digit and speaker dropped), per digit, or per digit and
speaker. Griffin-Lim needs no training; the 1-D U-Net over 48 mel frames keeps it cheap on a CPU.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from aigc.audio.melunet import MelUNet, MelUNetConfig
from aigc.audio.spectral import MelConfig, log_mel, log_mel_to_wave
from aigc.core.errors import BadInputError

__all__ = ["MelDiffusionConfig", "MelDiffusionObjective", "cosine_alphas_cumprod", "ddim_sample"]


@dataclass(kw_only=True)
class MelDiffusionConfig:
    sample_rate: int = 8000
    clip_samples: int = 6016
    n_fft: int = 512
    hop: int = 128
    n_mels: int = 40
    channels: int = 128
    mult: tuple[int, ...] = (1, 2, 2)
    blocks: int = 2
    dropout: float = 0.0
    timesteps: int = 1000
    cond_drop: float = 0.1  # probability of dropping the digit (and, independently, the speaker)
    min_snr_gamma: float | None = 5.0  # Min-SNR loss weighting (Hang et al. 2023); None = plain MSE
    log_floor: float = -9.21  # log(1e-4): 57 dB below a loud frame is silence enough for speech
    mel_center: float = -2.6  # normalised mel = (clamp(log-mel, log_floor) - center) / scale, in ~[-1, 1]
    mel_scale: float = 6.6
    num_classes: int = 10
    num_speakers: int = 6
    class_names: tuple[str, ...] = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
    speaker_names: tuple[str, ...] = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")

    def __post_init__(self) -> None:
        if len(self.class_names) != self.num_classes or len(self.speaker_names) != self.num_speakers:
            raise BadInputError(f"mel-diffusion: {len(self.class_names)} class names for {self.num_classes} "
                                f"classes, {len(self.speaker_names)} speaker names for {self.num_speakers}")
        if not 0 <= self.cond_drop < 1:
            raise BadInputError(f"mel-diffusion: cond_drop must be in [0, 1), got {self.cond_drop}")

    def mel(self) -> MelConfig:
        return MelConfig(sample_rate=self.sample_rate, n_fft=self.n_fft, hop=self.hop, n_mels=self.n_mels)

    @property
    def frames(self) -> int:
        return self.mel().frames(self.clip_samples)

    def unet(self) -> MelUNetConfig:
        return MelUNetConfig(n_mels=self.n_mels, frames=self.frames, channels=self.channels, mult=self.mult,
                             blocks=self.blocks, num_classes=self.num_classes, num_speakers=self.num_speakers,
                             dropout=self.dropout)


def cosine_alphas_cumprod(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """(T,) cumulative signal fractions of the cosine schedule (Nichol & Dhariwal 2021), float64."""
    t = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    alphas = (f[1:] / f[:-1]).clamp(min=1 - 0.999)  # beta <= 0.999 as in the paper
    return torch.cumprod(alphas, dim=0)


class MelDiffusionObjective:
    """Epsilon-prediction DDPM loss on normalised log-mels.

    Batch: ``{"mel": (B, n_mels, frames) normalised, "digit": (B,) long, "speaker": (B,) long}``.
    """

    config_class = MelDiffusionConfig

    def __init__(self, config: MelDiffusionConfig) -> None:
        self.config = config
        self.net = MelUNet(config.unet())
        self.alphas_cumprod = cosine_alphas_cumprod(config.timesteps).float()

    def networks(self) -> dict[str, nn.Module]:
        return {"denoiser": self.net}

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"denoiser": torch.optim.AdamW(nets["denoiser"].parameters(), lr=lr, weight_decay=0.0)}

    # ------------------------------------------------------------------ mel <-> model space
    def normalize(self, logmel: torch.Tensor) -> torch.Tensor:
        c = self.config
        return (logmel.clamp_min(c.log_floor) - c.mel_center) / c.mel_scale

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        return (x * c.mel_scale + c.mel_center).clamp_min(c.log_floor)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, clip_samples) waves -> (B, n_mels, frames) normalised log-mels."""
        return self.normalize(log_mel(wave, self.config.mel()))

    def vocode(self, x: torch.Tensor, *, n_iter: int = 32) -> torch.Tensor:
        """(B, n_mels, frames) normalised mels -> (B, clip_samples) waves by Griffin-Lim (zero phase
        start, so deterministic)."""
        wave = log_mel_to_wave(self.denormalize(x).double(), self.config.mel(), n_iter=n_iter,
                               length=self.config.clip_samples)
        return wave.float()

    # ------------------------------------------------------------------ training
    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor], ctx) -> dict:
        c, g = self.config, ctx.generator
        x0 = batch["mel"]
        b, device = x0.shape[0], x0.device
        t = torch.randint(0, c.timesteps, (b,), generator=g, device=device)
        noise = torch.randn(x0.shape, generator=g, device=device)
        a = self.alphas_cumprod.to(device)[t][:, None, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        digit, speaker = batch["digit"].clone(), batch["speaker"].clone()
        digit[torch.rand(b, generator=g, device=device) < c.cond_drop] = c.num_classes
        speaker[torch.rand(b, generator=g, device=device) < c.cond_drop] = c.num_speakers
        pred = nets["denoiser"](xt, t, digit, speaker)
        per_example = (pred - noise).pow(2).mean(dim=(1, 2))
        if c.min_snr_gamma is None:
            return {"loss": per_example.mean()}
        # epsilon-prediction form of Min-SNR-gamma: weight min(SNR, gamma) / SNR, which damps the
        # nearly noise-free steps and spends the updates on the noisy ones that decide the content
        snr = a.flatten() / (1 - a.flatten())
        weight = snr.clamp(max=c.min_snr_gamma) / snr
        return {"loss": (weight * per_example).mean(), "mse": per_example.mean().detach()}

    def sample(self, nets: Mapping[str, nn.Module], generator: torch.Generator) -> torch.Tensor:
        """Trainer preview: one mel per digit (speaker 0) as (10, 1, n_mels, frames) images in [0, 1]."""
        c = self.config
        device = next(nets["denoiser"].parameters()).device
        digits = torch.arange(c.num_classes, device=device)
        x = ddim_sample(nets["denoiser"], self.alphas_cumprod, digits, torch.zeros_like(digits),
                        (c.n_mels, c.frames), steps=10, guidance=2.0, generator=generator)
        return ((x.flip(1) + 1) / 2).clamp(0, 1).unsqueeze(1)


@torch.no_grad()
def ddim_sample(net: nn.Module, alphas_cumprod: torch.Tensor, digit: torch.Tensor, speaker: torch.Tensor,
                shape: tuple[int, int], *, steps: int = 25, guidance: float = 2.0,
                generator: torch.Generator | None = None, null_digit: int | None = None,
                null_speaker: int | None = None, x0_clip: float = 1.5) -> torch.Tensor:
    """Deterministic DDIM (Song et al. 2021, eta = 0) with classifier-free guidance.

    ``digit``/``speaker`` (B,) hold the null token for "any"; the unconditional branch drops both.
    Each step's clean-mel estimate is clipped to [-``x0_clip``, ``x0_clip``] (the data lie in about
    [-1, 1.1]): guided estimates overshoot. 1.5 measured better than clipping at the data's range
    (FSDD, g = 4, 200 clips: conditional accuracy 0.785 vs 0.67, Fréchet distance 96 vs 123).
    Returns (B, *shape) normalised mels; the initial noise comes from ``generator``.
    """
    cfg = getattr(net, "cfg", None)
    null_digit = null_digit if null_digit is not None else cfg.num_classes
    null_speaker = null_speaker if null_speaker is not None else cfg.num_speakers
    total = alphas_cumprod.shape[0]
    if not 1 <= steps <= total:
        raise BadInputError(f"sampling steps must be in [1, {total}], got {steps}")
    device = digit.device
    ac = alphas_cumprod.to(device)
    times = torch.linspace(total - 1, 0, steps, device=device).round().long()
    x = torch.randn((digit.shape[0], *shape), generator=generator, device=device)
    null_d, null_s = torch.full_like(digit, null_digit), torch.full_like(speaker, null_speaker)
    for i, t in enumerate(times):
        tt = t.expand(digit.shape[0])
        if guidance == 1.0:
            eps = net(x, tt, digit, speaker)
        else:
            both = net(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([digit, null_d]),
                       torch.cat([speaker, null_s]))
            cond, uncond = both.chunk(2)
            eps = uncond + guidance * (cond - uncond)
        a_t = ac[t]
        a_prev = ac[times[i + 1]] if i + 1 < steps else torch.tensor(1.0, device=device)
        x0 = ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-x0_clip, x0_clip)
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x
