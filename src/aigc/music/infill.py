"""The infilling model (Coconet; Huang, Cooijmans, Roberts, Courville & Eck 2017): erase some
(voice, step) cells of a four-voice chorale, predict each erased cell's pitch from everything left.

A voice's line is a ``(T, 89)`` one-hot (88 keys + a rest class); the network sees, per voice, the
one-hot with erased cells zeroed and the erase mask, as ``(B, 2V, T, 89)`` "image" channels, and a
stack of residual 3x3 convolutions over (time, pitch) returns logits ``(B, V, T, 89)``. Training
erases cells with a random rate per piece (Coconet's uniform-rate masks) and, for some pieces, all
of the alto, tenor and bass — the harmonisation case. Sampling (:mod:`aigc.music.sampling`) is
Coconet's annealed blocked Gibbs, never touching the cells the user fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.data.music import KEYS
from aigc.music.augment import random_transpose_voices
from aigc.nn.conv import ResBlock, conv3
from aigc.train.objective import NetworksObjective

__all__ = ["InfillConfig", "CoconetNet", "InfillObjective", "CLASSES", "REST"]

REST = KEYS  # class index of a silent voice
CLASSES = KEYS + 1


@dataclass(kw_only=True)
class InfillConfig:
    """Model and objective settings (saved in config.json)."""

    voices: int = 4
    channels: int = 64
    blocks: int = 4
    context: int = 32  # training crop in steps
    harmonize_rate: float = 0.25  # share of training pieces with alto, tenor and bass all erased
    transpose: int = 6
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        if min(self.voices, self.channels, self.blocks, self.context) < 1:
            raise BadInputError("voices, channels, blocks and context must be >= 1")
        if not 0 <= self.harmonize_rate <= 1:
            raise BadInputError(f"harmonize_rate must be in [0, 1], got {self.harmonize_rate}")


class CoconetNet(nn.Module):
    """``forward(classes (B, T, V) long, erased (B, T, V) bool) -> logits (B, V, T, 89)``."""

    def __init__(self, config: InfillConfig) -> None:
        super().__init__()
        self.stem = conv3(2 * config.voices, config.channels)
        self.body = nn.Sequential(*[ResBlock(config.channels) for _ in range(config.blocks)])
        self.head = conv3(config.channels, config.voices)
        # convolutions are blind to absolute pitch; a learned per-voice, per-pitch logit bias gives
        # each voice its register (bass low, soprano high) and, without transposition, the key
        self.pitch_bias = nn.Parameter(torch.zeros(config.voices, 1, CLASSES))

    def forward(self, classes: torch.Tensor, erased: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(classes.clamp(0, CLASSES - 1), CLASSES).float()  # (B, T, V, P)
        onehot = onehot * (~erased).unsqueeze(-1)
        mask = erased.float().unsqueeze(-1).expand_as(onehot)
        x = torch.cat([onehot, mask], dim=2).permute(0, 2, 1, 3)  # (B, 2V, T, P)
        return self.head(torch.relu(self.body(torch.relu(self.stem(x))))) + self.pitch_bias


def random_erase(shape: tuple[int, int, int], harmonize_rate: float,
                 generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """(B, T, V) bool erase masks: a per-piece rate ~ U(0, 1] per cell, or (with probability
    ``harmonize_rate``) every voice but the soprano."""
    b, t, v = shape
    rate = 1.0 - torch.rand(b, 1, 1, generator=generator, device=device)
    cells = torch.rand(b, t, v, generator=generator, device=device) < rate
    harm = torch.rand(b, 1, 1, generator=generator, device=device) < harmonize_rate
    lower = torch.zeros(1, 1, v, dtype=torch.bool, device=device)
    lower[..., 1:] = True
    erased = torch.where(harm, lower.expand(b, t, v), cells)
    # never an empty mask: erase one random cell where nothing was
    empty = ~erased.flatten(1).any(1)
    if empty.any():
        flat = erased.flatten(1).clone()
        idx = torch.randint(0, t * v, (b,), generator=generator, device=device)
        flat[empty, idx[empty]] = True
        erased = flat.view(b, t, v)
    return erased


class InfillObjective(NetworksObjective):
    """Cross-entropy on the erased cells of ``batch["voices"]`` (B, L, V) classes (88 = rest),
    averaged over erased cells; ``batch["mask"]`` (B, L) = 1 on real steps."""

    config_class = InfillConfig
    ema_networks = ("model",)
    default_lr, default_batch_size = 2e-3, 32
    kind = "voices"

    def __init__(self, config: InfillConfig) -> None:
        self.config = config
        self.nets = {"model": CoconetNet(config)}

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        voices = random_transpose_voices(batch["voices"], self.config.transpose, ctx.generator)
        erased = random_erase(tuple(voices.shape), self.config.harmonize_rate, ctx.generator, voices.device)
        erased = erased & batch["mask"].bool().unsqueeze(-1)
        logits = nets["model"](voices, erased)  # (B, V, T, P)
        nll = F.cross_entropy(logits.permute(0, 3, 2, 1).float(), voices, reduction="none")  # (B, T, V)
        weight = erased.float()
        return {"loss": (nll * weight).sum() / weight.sum().clamp(min=1)}

    @torch.no_grad()
    def probabilities(self, nets: Mapping[str, nn.Module], voices: torch.Tensor, erased: torch.Tensor,
                      temperature: float = 1.0) -> torch.Tensor:
        """Per-cell class probabilities ``(B, T, V, 89)`` given the cells not erased."""
        logits = nets["model"](voices, erased).permute(0, 2, 1, 3)
        return torch.softmax(logits.float() / max(temperature, 1e-4), dim=-1)
