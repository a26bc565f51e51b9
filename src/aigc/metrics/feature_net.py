"""A small CNN classifier for 28x28 grey images whose penultimate layer serves as FID/KID/PR
features for digit-like (MNIST) and fashion-like (Fashion-MNIST) data, and whose softmax serves the
Inception Score and class coverage. InceptionV3 features are meaningless on 28x28 digits; a
domain classifier is the usual substitute (e.g. the "MNIST FID" of many GAN papers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.config import config_to_dict
from aigc.core.errors import BadInputError

__all__ = ["FeatureNetConfig", "FeatureNet", "FeatureClassifierObjective", "ARCHITECTURE"]

ARCHITECTURE = "aigc-feature-cnn"


@dataclass(kw_only=True)
class FeatureNetConfig:
    """Shape of the feature CNN; saved in the features folder's config.json."""

    channels: int = 1
    image_size: int = 28
    widths: tuple[int, int] = (16, 32)
    feature_dim: int = 128
    num_classes: int = 10

    def __post_init__(self) -> None:
        if self.image_size % 4:
            raise BadInputError(f"feature CNN image_size must be a multiple of 4, got {self.image_size}")


class FeatureNet(nn.Module):
    """(B, C, S, S) in [0, 1] -> (B, num_classes) logits; ``features`` gives (B, feature_dim)."""

    def __init__(self, config: FeatureNetConfig) -> None:
        super().__init__()
        self.config = config
        w1, w2 = config.widths
        # Two conv stages are plenty for 28x28 grey data (~99% MNIST test accuracy) and keep
        # training to about a minute on two CPU cores.
        self.body = nn.Sequential(
            nn.Conv2d(config.channels, w1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w1, w2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(w2 * (config.image_size // 4) ** 2, config.feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(config.feature_dim, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) -> (B, feature_dim) penultimate activations."""
        return self.body(x * 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class FeatureClassifierObjective:
    """Cross-entropy on ``{"images": (B, C, S, S), "labels": (B,)}`` for the one Trainer."""

    def __init__(self, config: FeatureNetConfig, seed: int = 0) -> None:
        self.config, self.seed = config, seed

    def networks(self) -> dict[str, nn.Module]:
        # Initialise from ``seed`` without touching the caller's global RNG state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return {"classifier": FeatureNet(self.config)}

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"classifier": torch.optim.Adam(nets["classifier"].parameters(), lr=lr)}

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        logits = nets["classifier"](batch["images"])
        loss = F.cross_entropy(logits, batch["labels"])
        acc = (logits.argmax(1) == batch["labels"]).float().mean()
        return {"loss": loss, "acc": acc.detach()}

    def meta(self) -> dict[str, Any]:
        return {"task": "metrics-features", "architecture": ARCHITECTURE, "model": config_to_dict(self.config)}
