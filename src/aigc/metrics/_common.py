"""Small helpers shared by the metrics: array conversion, validation, feature accumulation."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aigc.core.errors import BadInputError

__all__ = ["to_tensor64", "as_features", "FeatureBuffer", "RealFakeFeatures"]


def to_tensor64(x: Any) -> torch.Tensor:
    """A CPU float64 tensor from a numpy array, torch tensor or nested sequence."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(device="cpu", dtype=torch.float64)
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def as_features(x: Any, name: str = "features", min_rows: int = 1) -> torch.Tensor:
    """Validate and convert features to a float64 (N, D) tensor with N >= ``min_rows``."""
    t = to_tensor64(x)
    if t.ndim != 2:
        raise BadInputError(f"{name}: expected an (N, D) array of features, got shape {tuple(t.shape)}")
    if t.shape[0] < min_rows:
        raise BadInputError(f"{name}: need at least {min_rows} rows of features, got {t.shape[0]}")
    if not torch.isfinite(t).all():
        raise BadInputError(f"{name}: features contain NaN or inf")
    return t


class FeatureBuffer:
    """Accumulates (N, D) feature batches; ``merge`` concatenates another buffer's rows.

    Used by metrics that need every sample (KID, precision/recall, IS), not just running sums.
    """

    def __init__(self) -> None:
        self._chunks: list[torch.Tensor] = []

    def add(self, x: Any) -> None:
        t = to_tensor64(x)
        if t.ndim != 2:
            raise BadInputError(f"expected an (N, D) batch, got shape {tuple(t.shape)}")
        if self._chunks and t.shape[1] != self._chunks[0].shape[1]:
            raise BadInputError(
                f"feature width changed from {self._chunks[0].shape[1]} to {t.shape[1]} between updates"
            )
        self._chunks.append(t)

    def extend(self, other: "FeatureBuffer") -> None:
        for chunk in other._chunks:
            self.add(chunk)

    def clear(self) -> None:
        self._chunks = []

    def __len__(self) -> int:
        return sum(c.shape[0] for c in self._chunks)

    def value(self) -> torch.Tensor:
        """All rows so far, (N, D) float64; (0, 0) when empty."""
        if not self._chunks:
            return torch.zeros(0, 0, dtype=torch.float64)
        return torch.cat(self._chunks, dim=0)



class RealFakeFeatures:
    """Base of metrics that keep every real and fake feature row (KID, precision/recall)."""

    def __init__(self) -> None:
        self.real, self.fake = FeatureBuffer(), FeatureBuffer()

    def reset(self) -> None:
        self.real.clear()
        self.fake.clear()

    def update(self, features: Any, real: bool) -> None:
        """Add a batch of (N, D) features to the real or the fake side."""
        (self.real if real else self.fake).add(features)

    def merge(self, other: "RealFakeFeatures") -> None:
        self.real.extend(other.real)
        self.fake.extend(other.fake)
