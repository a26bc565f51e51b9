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

import torch

from aigc.core.config import config_from_dict
from aigc.core.errors import BadInputError
from aigc.core.modeldir import load_weights
from aigc.core.paths import cache_dir
from aigc.data.download import sha256_file
from aigc.metrics.extractor import FeatureExtractor, check_state

__all__ = ["FeatureExtractor", "load_feature_extractor", "features_dir", "sha256_file", "check_state",
           "DOMAIN_FEATURES"]

DOMAIN_FEATURES = ("mnist", "fashion-mnist", "digits")  # names train-features can build
WEIGHTS, CONFIG = "model.safetensors", "config.json"


def features_dir(name: str) -> Path:
    """Where ``train-features`` caches the domain features called ``name``."""
    return cache_dir() / "features" / name


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
