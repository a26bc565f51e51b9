"""A small video classifier of one-digit Moving MNIST clips (digit identity), whose features give a
Fréchet distance for generated clips ("FVD" in the spirit of Unterthiner et al. 2018, but in the
features of a domain classifier rather than I3D, so the numbers compare only with each other).

Per frame: three stride-2 3x3 convs (32x32 -> 4x4) and a linear map to ``features`` channels; across
frames: a temporal convolution (kernel 3) and a mean over time, so the features see motion as well
as appearance. Registered as the ``clip-classifier`` architecture; ``aigc train video --arch
clip-classifier`` trains it on the same clips the diffusion model learns from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.video.objectives import VideoObjective, pooled_clips

__all__ = ["ClipClassifierConfig", "ClipClassifier", "ClipClassifierObjective"]


@dataclass(kw_only=True)
class ClipClassifierConfig:
    channels: int = 1
    image_size: int = 32
    frames: int = 16
    width: int = 32
    features: int = 64
    num_classes: int = 10

    def __post_init__(self) -> None:
        if self.image_size % 8 or min(self.width, self.features, self.num_classes, self.frames) < 1:
            raise BadInputError("image_size must be a multiple of 8; width, features, classes, frames >= 1")


class ClipClassifier(nn.Module):
    """``features(x (B, T, C, S, S) in [0, 1])`` -> (B, features); ``forward`` -> class logits."""

    def __init__(self, config: ClipClassifierConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.frame = nn.Sequential(
            nn.Conv2d(config.channels, w, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, 2, 1), nn.ReLU(), nn.Flatten(),
            nn.Linear(2 * w * (config.image_size // 8) ** 2, config.features))
        self.temporal = nn.Conv1d(config.features, config.features, 3, padding=1)
        self.head = nn.Linear(config.features, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        f = self.frame(x.flatten(0, 1)).view(b, t, -1).transpose(1, 2)  # (B, D, T)
        return F.relu(self.temporal(F.relu(f))).mean(dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ClipClassifierObjective(VideoObjective):
    """Cross-entropy of the digit class of one-digit clips."""

    config_class = ClipClassifierConfig
    network_class = ClipClassifier
    kind = "classification"
    digits_per_clip = 1
    ema_networks = ()

    @property
    def frames_needed(self) -> int:
        return self.config.frames

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        clips = pooled_clips(batch, self.config.frames, self.config.image_size)
        labels = batch["labels"][:, 0].long()
        logits = nets["model"](clips)
        acc = (logits.argmax(1) == labels).float().mean()
        return {"loss": F.cross_entropy(logits, labels), "accuracy": acc.detach()}

    @torch.no_grad()
    def features(self, nets: Mapping[str, nn.Module], clips: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """(N, T, C, S, S) clips in [0, 1] -> (N, features) float64."""
        out = [nets["model"].features(clips[i:i + batch]).double() for i in range(0, len(clips), batch)]
        return torch.cat(out)
