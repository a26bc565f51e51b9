"""Objectives for the Trainer: frame prediction (ConvLSTM, SimVP) and frame interpolation, plus the
batch helpers every video objective uses (the generation and classifier objectives live in
``generation.py`` and ``classifier.py``).

A batch is either rendered Moving MNIST recipes (``digits`` (B, D, 28, 28) uint8 and ``positions``
(B, T, D, 2), see :mod:`aigc.data.moving_mnist`; rendering 16 x 20 frames takes ~5 ms of CPU) or
ready ``frames`` (B, T, H, W) uint8. The loss is the mean squared pixel error (OpenSTL trains every
model with it). The video task (``aigc.video.task``) registers them as ``convlstm``, ``simvp`` and
``interp``.
"""

from __future__ import annotations

import abc
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.data.moving_mnist import render
from aigc.train.objective import SingleNetworkObjective
from aigc.video.convlstm import ConvLSTMConfig, ConvLSTMNet
from aigc.video.interp import InterpConfig, InterpNet
from aigc.video.layered import LayeredConfig, LayeredNet
from aigc.video.simvp import SimVPConfig, SimVPNet

__all__ = ["batch_frames", "pooled_clips", "ConvLSTMObjective", "SimVPObjective", "LayeredObjective",
           "InterpolationObjective"]


def batch_frames(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """(B, T, 1, H, W) float frames in [0, 1] from a batch of recipes or of uint8 frames."""
    if "frames" in batch:
        frames = batch["frames"]
    elif "digits" in batch and "positions" in batch:
        frames = render(batch["digits"], batch["positions"])
    else:
        raise BadInputError(f"a video batch needs 'frames' or 'digits' + 'positions', got {sorted(batch)}")
    return frames.float().div(255.0).unsqueeze(2)


def pooled_clips(batch: Mapping[str, torch.Tensor], frames: int, size: int) -> torch.Tensor:
    """(B, frames, 1, size, size) clips in [0, 1]: the batch's first frames average-pooled to ``size``
    (the 64x64 protocol halved gives 32x32 clips with 14-px digits)."""
    clips = batch_frames(batch)[:, :frames]
    b, t = clips.shape[:2]
    factor = clips.shape[-1] // size
    if factor < 1 or clips.shape[-1] != factor * size:
        raise BadInputError(f"frames of {clips.shape[-1]} px cannot be pooled to {size}")
    return F.avg_pool2d(clips.flatten(0, 1), factor).unflatten(0, (b, t)) if factor > 1 else clips


class VideoObjective(SingleNetworkObjective):
    """Shared by every video objective: one network ``"model"``, Adam, EMA-able."""

    default_lr, default_batch_size = 1e-3, 16  # `aigc train video` without --lr / --batch-size

    @property
    def frames_needed(self) -> int:
        """Frames per training sequence."""
        return self.config.context + self.config.future


class _PredictionObjective(VideoObjective, abc.ABC):
    """Frame prediction: ``context`` frames in, ``future`` frames out."""

    kind = "prediction"

    def _check(self, frames: torch.Tensor) -> None:
        if frames.shape[1] < self.frames_needed:
            raise BadInputError(f"training sequences have {frames.shape[1]} frames; this model needs "
                                f"{self.config.context} + {self.config.future}")

    @abc.abstractmethod
    def predict(self, nets: Mapping[str, nn.Module], context: torch.Tensor, future: int) -> torch.Tensor:
        """(B, T, C, H, W) context in [0, 1] -> (B, future, C, H, W) in [0, 1]. Longer horizons than
        the trained one roll forward on the model's own predictions."""


class ConvLSTMObjective(_PredictionObjective):
    config_class = ConvLSTMConfig
    network_class = ConvLSTMNet

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        """Loss on every next-frame prediction: the context's (teacher-forced) and the future's."""
        frames = batch_frames(batch)
        self._check(frames)
        c, f = self.config.context, self.config.future
        pred = nets["model"](frames[:, :c], f)
        loss = F.mse_loss(pred, frames[:, 1:c + f])
        future_mse = F.mse_loss(pred[:, c - 1:].detach(), frames[:, c:c + f])
        return {"loss": loss, "future_mse": future_mse * frames[0, 0].numel()}

    @torch.no_grad()
    def predict(self, nets: Mapping[str, nn.Module], context: torch.Tensor, future: int) -> torch.Tensor:
        out = nets["model"](context, future)
        return out[:, context.shape[1] - 1:].clamp(0, 1)


class _DirectObjective(_PredictionObjective):
    """Models that draw all ``future`` frames in one forward pass from ``context`` frames."""

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        frames = batch_frames(batch)
        self._check(frames)
        c, f = self.config.context, self.config.future
        pred = nets["model"](frames[:, :c])
        loss = F.mse_loss(pred.float(), frames[:, c:c + f])
        return {"loss": loss, "future_mse": loss.detach() * frames[0, 0].numel()}

    @torch.no_grad()
    def predict(self, nets: Mapping[str, nn.Module], context: torch.Tensor, future: int) -> torch.Tensor:
        c = self.config.context
        if context.shape[1] < c:
            raise BadInputError(f"this model needs {c} context frames, got {context.shape[1]}")
        window, outs, made = context[:, -c:], [], 0
        while made < future:
            pred = nets["model"](window).clamp(0, 1)
            outs.append(pred)
            made += pred.shape[1]
            window = torch.cat([window, pred], dim=1)[:, -c:]
        return torch.cat(outs, dim=1)[:, :future]


class SimVPObjective(_DirectObjective):
    config_class = SimVPConfig
    network_class = SimVPNet
    # `aigc train video --arch simvp` without --optimizer: Muon on the hidden weights (aigc.train.muon).
    # Moving MNIST, same machine, side by side: conv translator one CPU hour 70.2 -> 59.8 (10,000 test
    # sequences); tau translator 600 CPU-s 111.0 -> 100.5 (2,000)
    default_optimizer = "muon"


class LayeredObjective(_DirectObjective):
    """The layered sprite predictor (:mod:`aigc.video.layered`)."""

    config_class = LayeredConfig
    network_class = LayeredNet
    # Muon at 2e-3: the recipe of benchmarks/video_mmnist.py (model "layered"); pilots of an earlier
    # version (600 CPU-s, 500 test sequences): lr 1e-3 105.3, 2e-3 101.8, 4e-3 flat with 2e-3
    default_optimizer = "muon"
    default_lr = 2e-3


class InterpolationObjective(VideoObjective):
    """Predict frame t + gap/2 from frames t and t + gap; t is drawn per sequence."""

    config_class = InterpConfig
    network_class = InterpNet
    kind = "interpolation"

    @property
    def frames_needed(self) -> int:
        return self.config.gap + 1

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        frames = batch_frames(batch)
        b, t = frames.shape[:2]
        gap = self.config.gap
        if t <= gap:
            raise BadInputError(f"training sequences have {t} frames; interpolation needs > {gap}")
        start = torch.randint(0, t - gap, (b,), generator=ctx.generator, device=ctx.generator.device)
        start = start.to(frames.device)
        rows = torch.arange(b, device=frames.device)
        a, mid, z = frames[rows, start], frames[rows, start + gap // 2], frames[rows, start + gap]
        pred = nets["model"](a, z)
        loss = F.mse_loss(pred, mid)
        blend = F.mse_loss(0.5 * (a + z), mid)
        return {"loss": loss, "blend_mse": blend}

    @torch.no_grad()
    def middle(self, nets: Mapping[str, nn.Module], a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) frames -> their predicted middle frames, in [0, 1]."""
        return nets["model"](a, b).clamp(0, 1)
