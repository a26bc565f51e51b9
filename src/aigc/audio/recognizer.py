"""Spoken-digit recogniser: a CNN on log-mels with a digit head and a speaker head.

It is also the feature network of the audio metrics (Inception Score over its digit
probabilities, Fréchet distance over its pooled features), as Inception-v3 is for images.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aigc.audio.augment import add_noise, random_uniform, spec_augment, time_shift
from aigc.audio.spectral import MelConfig, mel_filterbank
from aigc.core.errors import BadInputError

__all__ = ["DigitRecognizer", "LogMel", "RecognizerConfig", "RecognizerObjective"]


@dataclass(kw_only=True)
class RecognizerConfig:
    """Model and input convention; saved in config.json and stated by the metrics."""

    sample_rate: int = 8000
    clip_samples: int = 6016  # 0.75 s: 97 % of FSDD digits fit; 48 mel frames at hop 128
    n_fft: int = 512
    hop: int = 128
    n_mels: int = 40
    channels: int = 32
    num_classes: int = 10
    num_speakers: int = 6
    dropout: float = 0.1
    speaker_weight: float = 0.5  # weight of the speaker loss beside the digit loss
    label_smoothing: float = 0.1
    max_shift_s: float = 0.08  # augmentation: random delay of up to this many seconds
    noise_snr_db: tuple[float, float] = (10.0, 40.0)  # white noise at an SNR drawn from this range
    spec_masks: int = 1  # SpecAugment: frequency and time masks per example (0 = off)
    class_names: tuple[str, ...] = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
    speaker_names: tuple[str, ...] = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")

    def __post_init__(self) -> None:
        if len(self.class_names) != self.num_classes or len(self.speaker_names) != self.num_speakers:
            raise BadInputError(f"recognizer: {len(self.class_names)} class names for {self.num_classes} "
                                f"classes, {len(self.speaker_names)} speaker names for {self.num_speakers}")

    def mel(self) -> MelConfig:
        return MelConfig(sample_rate=self.sample_rate, n_fft=self.n_fft, hop=self.hop, n_mels=self.n_mels)


class LogMel(nn.Module):
    """(B, T) waves -> (B, n_mels, frames) log-mel power, normalised per example (zero mean, unit
    variance), so loudness does not matter. No parameters."""

    def __init__(self, mel: MelConfig) -> None:
        super().__init__()
        self.cfg = mel
        self.register_buffer("fb", mel_filterbank(mel), persistent=False)
        self.register_buffer("window", torch.hann_window(mel.n_fft, periodic=True), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave.float(), self.cfg.n_fft, self.cfg.hop, window=self.window, center=True,
                          pad_mode="constant", return_complex=True)
        logmel = (self.fb @ spec.abs().pow(2)).clamp_min(self.cfg.floor).log()
        mean = logmel.mean(dim=(1, 2), keepdim=True)
        std = logmel.std(dim=(1, 2), keepdim=True).clamp_min(1e-3)
        return (logmel - mean) / std


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DigitRecognizer(nn.Module):
    """(B, T) waves (or (B, n_mels, frames) normalised log-mels) -> digit logits (B, K), speaker
    logits (B, S) and pooled features (B, 4 * channels)."""

    def __init__(self, cfg: RecognizerConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.frontend = LogMel(cfg.mel())
        self.body = nn.Sequential(_block(1, c), nn.MaxPool2d(2), _block(c, 2 * c), nn.MaxPool2d(2),
                                  _block(2 * c, 4 * c))
        self.dropout = nn.Dropout(cfg.dropout)
        self.digit_head = nn.Linear(4 * c, cfg.num_classes)
        self.speaker_head = nn.Linear(4 * c, cfg.num_speakers)

    def features(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, frames) normalised log-mels -> (B, 4 * channels): mean and max pooled."""
        h = self.body(mel.unsqueeze(1))
        return h.mean(dim=(2, 3)) + h.amax(dim=(2, 3))

    def forward(self, wave: torch.Tensor | None = None, *, mel: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if mel is None:
            if wave is None:
                raise TypeError("DigitRecognizer needs a wave or a mel")
            mel = self.frontend(wave)
        feats = self.features(mel)
        h = self.dropout(feats)
        return self.digit_head(h), self.speaker_head(h), feats


class RecognizerObjective:
    """Cross-entropy on digit and speaker with wave and SpecAugment augmentation.

    Batch: ``{"wave": (B, T) float, "digit": (B,) long, "speaker": (B,) long}``.
    """

    config_class = RecognizerConfig
    # the Classifies capability (aigc.train.objective): attacks and audits see a digit classifier of waves
    input_key = "wave"
    label_key = "digit"
    input_range = (-1.0, 1.0)  # waves (attacks stay inside it)

    def __init__(self, config: RecognizerConfig) -> None:
        self.config = config
        self.net = DigitRecognizer(config)

    def logits(self, nets: Mapping[str, nn.Module], x: torch.Tensor) -> torch.Tensor:
        """(B, T) waves in [-1, 1] -> (B, K) digit logits (the Classifies capability)."""
        return nets["recognizer"](x)[0]

    def networks(self) -> dict[str, nn.Module]:
        return {"recognizer": self.net}

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"recognizer": torch.optim.AdamW(nets["recognizer"].parameters(), lr=lr, weight_decay=1e-4)}

    def augment(self, wave: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        """Random delay and white noise at a random SNR: (B, T) -> (B, T)."""
        cfg, b = self.config, wave.shape[0]
        max_shift = int(cfg.max_shift_s * cfg.sample_rate)
        if max_shift:
            shifts = torch.randint(-max_shift, max_shift + 1, (b,), generator=g, device=wave.device)
            wave = time_shift(wave, shifts)
        lo, hi = cfg.noise_snr_db
        return add_noise(wave, random_uniform(b, lo, hi, g, wave.device), g)

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor], ctx) -> dict:
        cfg = self.config
        wave = self.augment(batch["wave"], ctx.generator)
        mel = self.net.frontend(wave)
        if cfg.spec_masks:
            mel = spec_augment(mel, freq_width=cfg.n_mels // 8, time_width=mel.shape[-1] // 8,
                               n_freq=cfg.spec_masks, n_time=cfg.spec_masks, value=0.0, generator=ctx.generator)
        digit_logits, speaker_logits, _ = nets["recognizer"](mel=mel)
        digit_loss = F.cross_entropy(digit_logits, batch["digit"], label_smoothing=cfg.label_smoothing)
        speaker_loss = F.cross_entropy(speaker_logits, batch["speaker"], label_smoothing=cfg.label_smoothing)
        acc = (digit_logits.argmax(1) == batch["digit"]).float().mean()
        return {"loss": digit_loss + cfg.speaker_weight * speaker_loss, "digit_loss": digit_loss.detach(),
                "speaker_loss": speaker_loss.detach(), "acc": acc.detach()}

    @torch.no_grad()
    def predict(self, nets: Mapping[str, nn.Module], wave: torch.Tensor, batch_size: int = 256
                ) -> dict[str, torch.Tensor]:
        """(N, T) waves -> digit probs (N, K), speaker probs (N, S), features (N, D) (eval mode)."""
        net = nets["recognizer"]
        out: dict[str, list[torch.Tensor]] = {"digit_probs": [], "speaker_probs": [], "features": []}
        device = next(net.parameters()).device
        for chunk in wave.split(batch_size):
            d, s, f = net(chunk.to(device))
            out["digit_probs"].append(d.float().softmax(1).cpu())
            out["speaker_probs"].append(s.float().softmax(1).cpu())
            out["features"].append(f.float().cpu())
        return {k: torch.cat(v) for k, v in out.items()}
