"""A small CNN image classifier and its objective for the one Trainer.

It is "the classifier" of the privacy and robustness tools: it implements the
:class:`aigc.train.objective.Classifies` capability (``input_key``, ``label_key``, ``logits``), so
the attacks, adversarial training and membership audits find it without knowing this task.

The default layout is the two-conv network of the DP-SGD MNIST experiments (Abadi et al. 2016;
Papernot et al. 2021 use tanh, which keeps activations bounded under gradient clipping); ``norm``
adds batch norm (the model check of DP training converts it to group norm) or group norm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.train.objective import NetworksObjective

__all__ = ["ACTIVATIONS", "NORMS", "ClassifierConfig", "ClassifierObjective", "ConvClassifier"]

NORMS = ("none", "batch", "group")
ACTIVATIONS = ("relu", "tanh")


@dataclass(kw_only=True)
class ClassifierConfig:
    """Shape of the classifier and its input convention; saved in config.json."""

    image_size: int = 28
    channels: int = 1
    num_classes: int = 10
    class_names: tuple[str, ...] = ()
    widths: tuple[int, int] = (16, 32)
    hidden: int = 32
    kernel: int = 5
    norm: str = "none"
    activation: str = "tanh"
    dropout: float = 0.0
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        checks = [
            (self.image_size >= 4 and self.image_size % 4 == 0,
             f"image_size must be a multiple of 4 (>= 4), got {self.image_size}"),
            (self.channels in (1, 3), f"channels must be 1 or 3, got {self.channels}"),
            (self.num_classes >= 2, f"num_classes must be >= 2, got {self.num_classes}"),
            (not self.class_names or len(self.class_names) == self.num_classes,
             f"{len(self.class_names)} class names for {self.num_classes} classes"),
            (len(self.widths) == 2 and min(self.widths) >= 1, f"widths must be two numbers >= 1, got {self.widths}"),
            (self.hidden >= 1, f"hidden must be >= 1, got {self.hidden}"),
            (self.kernel in (3, 5), f"kernel must be 3 or 5, got {self.kernel}"),
            (self.norm in NORMS, f"norm must be one of {NORMS}, got {self.norm!r}"),
            (self.activation in ACTIVATIONS, f"activation must be one of {ACTIVATIONS}, got {self.activation!r}"),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (0 <= self.label_smoothing < 1, f"label_smoothing must be in [0, 1), got {self.label_smoothing}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def names(self) -> tuple[str, ...]:
        return self.class_names or tuple(str(i) for i in range(self.num_classes))


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    return nn.Identity()


class ConvClassifier(nn.Module):
    """(B, C, S, S) images in [0, 1] -> (B, num_classes) logits."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        w1, w2 = config.widths
        act = nn.Tanh if config.activation == "tanh" else nn.ReLU
        pad = config.kernel // 2
        self.body = nn.Sequential(
            nn.Conv2d(config.channels, w1, config.kernel, padding=pad), _norm(config.norm, w1), act(),
            nn.MaxPool2d(2),
            nn.Conv2d(w1, w2, config.kernel, padding=pad), _norm(config.norm, w2), act(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(w2 * (config.image_size // 4) ** 2, config.hidden), act(), nn.Dropout(config.dropout))
        self.head = nn.Linear(config.hidden, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x * 2 - 1))


class ClassifierObjective(NetworksObjective):
    """Cross-entropy on ``{"images": (B, C, S, S) in [0, 1], "labels": (B,) long}``; logs accuracy."""

    config_class = ClassifierConfig
    input_key = "images"
    label_key = "labels"
    sampling_network = "classifier"
    default_lr: float | None = 1e-3
    default_batch_size: int | None = 64

    def __init__(self, config: ClassifierConfig) -> None:
        self.config = config
        self.nets = {"classifier": ConvClassifier(config)}

    def logits(self, nets: Mapping[str, nn.Module], x: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> (B, K) logits (the Classifies capability)."""
        return nets["classifier"](x)

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        x, y = batch[self.input_key], batch[self.label_key]
        if x.shape[1:] != (self.config.channels, self.config.image_size, self.config.image_size):
            raise BadInputError(f"classifier expects images of shape {(self.config.channels, self.config.image_size, self.config.image_size)}, "
                                f"got {tuple(x.shape[1:])}")
        logits = self.logits(nets, x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.config.label_smoothing)
        return {"loss": loss, "acc": (logits.argmax(1) == y).float().mean().detach()}

    @torch.no_grad()
    def predict(self, nets: Mapping[str, nn.Module], x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """(N, C, S, S) -> (N, K) class probabilities (networks in eval mode)."""
        net = nets["classifier"]
        device = next(net.parameters()).device
        return torch.cat([self.logits(nets, chunk.to(device)).float().softmax(1).cpu()
                          for chunk in x.split(batch_size)])
