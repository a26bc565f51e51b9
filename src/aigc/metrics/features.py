"""Pluggable feature extractors for the image distribution metrics.

A spec names one:

* ``mnist`` / ``fashion-mnist`` / ``digits`` — the domain CNN trained by
  ``aigc metrics train-features --data NAME``, cached under ``cache_dir()/features/NAME/``;
* ``dir:PATH`` — such a features folder elsewhere (``config.json`` + ``model.safetensors``);
* ``inception:PATH`` — InceptionV3 (FID layout, 2048-d pool3) from a local safetensors file.

Every extractor reports its name and the sha256 of its weights file, so a number is never
separated from the features that produced it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from aigc.core.config import config_from_dict
from aigc.core.errors import BadInputError
from aigc.core.modeldir import load_weights
from aigc.core.paths import cache_dir
from aigc.data.download import sha256_file
from aigc.data.transforms import resize, to_channels

__all__ = ["FeatureExtractor", "load_feature_extractor", "features_dir", "sha256_file", "check_state",
           "DOMAIN_FEATURES"]

DOMAIN_FEATURES = ("mnist", "fashion-mnist", "digits")  # names train-features can build
WEIGHTS, CONFIG = "model.safetensors", "config.json"


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


def features_dir(name: str) -> Path:
    """Where ``train-features`` caches the domain features called ``name``."""
    return cache_dir() / "features" / name


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


def load_domain_features(folder: Path, name: str, device: str | torch.device = "cpu") -> FeatureExtractor:
    """Load a features folder written by ``train_features`` (strict: unknown keys are errors)."""
    from aigc.metrics.feature_net import ARCHITECTURE, FeatureNet, FeatureNetConfig

    cfg_path, w_path = folder / CONFIG, folder / WEIGHTS
    if not (cfg_path.is_file() and w_path.is_file()):
        hint = f"run `aigc metrics train-features --data {name}`" if name in DOMAIN_FEATURES else \
            "point dir: at a folder holding config.json and model.safetensors"
        raise BadInputError(f"features {name!r} not found in {folder}: {hint}")
    meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    if meta.get("architecture") != ARCHITECTURE:
        raise BadInputError(f"{cfg_path}: architecture {meta.get('architecture')!r} is not {ARCHITECTURE!r}")
    cfg = config_from_dict(FeatureNetConfig, meta["model"])
    net = FeatureNet(cfg)
    weights = load_weights(w_path)
    check_state(net.state_dict(), weights, w_path, f"{ARCHITECTURE} {cfg}")
    net.load_state_dict(weights, strict=True)
    info = {"kind": "domain-cnn", "dim": cfg.feature_dim, "data": meta.get("data"),
            "test_accuracy": meta.get("test_accuracy")}
    return FeatureExtractor(name, net, channels=cfg.channels, image_size=cfg.image_size,
                            sha256=sha256_file(w_path), features_fn=net.features, logits_fn=net,
                            device=device, info=info)


def load_feature_extractor(spec: str, device: str | torch.device = "cpu") -> FeatureExtractor:
    """Resolve a features spec (see the module docstring) to a :class:`FeatureExtractor`."""
    if spec.startswith("inception:"):
        from aigc.metrics.inception import load_inception_extractor

        return load_inception_extractor(Path(spec[len("inception:"):]), device=device)
    if spec.startswith("dir:"):
        folder = Path(spec[len("dir:"):])
        return load_domain_features(folder, folder.name, device)
    if spec in DOMAIN_FEATURES:
        return load_domain_features(features_dir(spec), spec, device)
    raise BadInputError(f"unknown features {spec!r}: use one of {list(DOMAIN_FEATURES)}, "
                        "dir:PATH or inception:PATH.safetensors")
