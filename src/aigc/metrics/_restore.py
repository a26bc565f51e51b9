"""Image preparation shared by PSNR and SSIM: shape checks, Y channel, border shave."""

from __future__ import annotations

from typing import Any, Callable

import torch

from aigc.core.errors import BadInputError
from aigc.data.color import rgb_to_y
from aigc.metrics._common import to_tensor64

__all__ = ["rgb_to_y", "prepare_pair", "PerImageMean"]

def _as_batch(x: Any, name: str) -> torch.Tensor:
    t = to_tensor64(x)
    if t.ndim == 2:
        t = t[None, None]
    elif t.ndim == 3:
        t = t[None]
    if t.ndim != 4:
        raise BadInputError(f"{name}: expected (N, C, H, W), (C, H, W) or (H, W), got {tuple(t.shape)}")
    return t


def prepare_pair(pred: Any, target: Any, *, y_channel: bool, shave: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Check shapes, optionally convert RGB to Y, and crop ``shave`` pixels off every border.

    Returns two float64 (N, C', H - 2*shave, W - 2*shave) tensors.
    """
    p, t = _as_batch(pred, "pred"), _as_batch(target, "target")
    if p.shape != t.shape:
        raise BadInputError(f"pred and target shapes differ: {tuple(p.shape)} vs {tuple(t.shape)}")
    if y_channel:
        if p.shape[1] == 3:
            p, t = rgb_to_y(p), rgb_to_y(t)
        elif p.shape[1] != 1:
            raise BadInputError(f"Y channel needs RGB (3) or grey (1) images, got {p.shape[1]} channels")
    if shave < 0 or 2 * shave >= min(p.shape[-2:]):
        raise BadInputError(f"shave {shave} is too large for images of size {tuple(p.shape[-2:])}")
    if shave:
        p, t = p[..., shave:-shave, shave:-shave], t[..., shave:-shave, shave:-shave]
    return p, t


class PerImageMean:
    """Accumulates the sum and count of a per-image score (PSNR, SSIM); ``compute`` is the mean."""

    per_image: Callable[..., torch.Tensor]  # set by subclasses: (pred, target, **kwargs) -> (N,)

    def __init__(self, *, data_range: float = 1.0, y_channel: bool = False, shave: int = 0) -> None:
        self.kwargs = dict(data_range=data_range, y_channel=y_channel, shave=shave)
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, pred: Any, target: Any) -> None:
        """Add (N, C, H, W) predictions and targets."""
        values = type(self).per_image(pred, target, **self.kwargs)
        self.total += float(values.sum())
        self.count += values.numel()

    def merge(self, other: "PerImageMean") -> None:
        self.total += other.total
        self.count += other.count

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")
