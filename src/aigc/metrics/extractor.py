"""The feature extractor every distribution metric uses (domain CNNs, InceptionV3, audio and video
classifiers), and the weight check shared by their loaders. Below ``features`` and ``inception``, so
neither imports the other."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from aigc.core.errors import BadInputError
from aigc.data.transforms import resize, to_channels

__all__ = ["FeatureExtractor", "check_state"]


def check_state(expected: Mapping[str, torch.Tensor], weights: Mapping[str, torch.Tensor], path: Path,
                what: str, optional: Sequence[str] = ()) -> None:
    """Raise one clear line naming missing, unexpected and misshapen keys of ``weights`` at ``path``."""
    missing = sorted(set(expected) - set(weights) - set(optional))
    extra = sorted(set(weights) - set(expected))
    bad = sorted(k for k in set(expected) & set(weights) if weights[k].shape != expected[k].shape)
    if missing or extra or bad:
        detail = "; ".join(f"{kind} {keys[:5]}{' ...' if len(keys) > 5 else ''}"
                           for kind, keys in (("missing", missing), ("unexpected", extra),
                                              ("wrong shape", bad)) if keys)
        raise BadInputError(f"{path}: not {what} weights ({detail})")



class FeatureExtractor:
    """Wraps a network: (N, C, H, W) images in [0, 1] -> (N, D) features and (N, K) class probs.

    Images are converted to the network's channels and size first (BT.601 luma / bilinear), and
    run in batches under ``no_grad`` in eval mode.
    """

    def __init__(self, name: str, net: nn.Module, *, channels: int, image_size: int, sha256: str,
                 features_fn: Callable[[torch.Tensor], torch.Tensor],
                 logits_fn: Callable[[torch.Tensor], torch.Tensor] | None,
                 device: str | torch.device = "cpu", info: dict[str, Any] | None = None) -> None:
        self.name, self.sha256 = name, sha256
        self.channels, self.image_size = channels, image_size
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self._features_fn, self._logits_fn = features_fn, logits_fn
        self.info = dict(info or {})

    def describe(self) -> dict[str, Any]:
        """What every result states about the features it used."""
        return {"name": self.name, "sha256": self.sha256, **self.info}

    @property
    def has_classifier(self) -> bool:
        return self._logits_fn is not None

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4:
            raise BadInputError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
        x = to_channels(images.float(), self.channels)
        return resize(x, self.image_size)

    @torch.no_grad()
    def _run(self, images: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor],
             batch_size: int) -> torch.Tensor:
        out = [fn(self._prepare(b).to(self.device)).double().cpu() for b in images.split(batch_size)]
        return torch.cat(out) if out else torch.zeros(0, 0, dtype=torch.float64)

    def features(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N, D) float64 features."""
        return self._run(images, self._features_fn, batch_size)

    def probs(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N, K) float64 class probabilities."""
        if self._logits_fn is None:
            raise BadInputError(f"features {self.name!r} have no classifier head")
        return self._run(images, self._logits_fn, batch_size).softmax(dim=1)
