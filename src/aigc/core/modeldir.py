"""The model directory: the unit users save, share, load and serve.

::

    my-model/
      config.json          {"aigc_version", "task", "architecture", "model": {...}, "data", "train", ...}
      model.safetensors    weights, one prefix per network ("generator.", "ema.generator.", ...)
      train_state/         step-XXXXXXXX/ folders for exact resume, and ``latest``

Weights are safetensors and metadata is JSON: nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from aigc.core.atomic import atomic_path, atomic_write_json
from aigc.core.errors import BadInputError

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "read_config",
    "write_config",
    "save_weights",
    "load_weights",
    "split_prefix",
    "weights_metadata",
    "model_id",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read ``config.json`` of a model directory, with clear errors for missing/corrupt files."""
    path = Path(path)
    cfg_path = path / CONFIG_NAME if path.is_dir() or not path.suffix else path
    if not path.exists():
        raise BadInputError(f"model directory {str(path)!r} does not exist")
    if path.is_file() and path.suffix.lower() != ".json":
        raise BadInputError(f"{str(path)!r} is a file, not an aigc model directory; give the folder "
                            f"`aigc train --out` wrote (for a generated file's recipe: aigc info {path})")
    if not cfg_path.is_file():
        raise BadInputError(f"{str(path)!r} is not an aigc model directory (no {CONFIG_NAME})")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{cfg_path}: not valid JSON ({exc})") from exc
    if not isinstance(config, dict) or "task" not in config or "architecture" not in config:
        raise BadInputError(f"{cfg_path}: missing 'task' or 'architecture'")
    return config


def write_config(path: str | os.PathLike, config: Mapping[str, Any]) -> None:
    atomic_write_json(Path(path) / CONFIG_NAME, dict(config))


def _contiguous(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors refuses shared or non-contiguous storage (tied weights): store clones.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}


def save_weights(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor],
                 metadata: Mapping[str, str] | None = None) -> None:
    """Write a safetensors file atomically. ``metadata`` is stored as one JSON string (key
    ``aigc``): safetensors writes several keys in a random order, and the same weights must give
    the same bytes."""
    packed = {"aigc": json.dumps(dict(metadata), sort_keys=True)} if metadata else None
    with atomic_path(path) as tmp:
        save_file(_contiguous(tensors), str(tmp), metadata=packed)


def weights_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata :func:`save_weights` stored (older files: the plain safetensors metadata)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    return json.loads(meta["aigc"]) if "aigc" in meta else dict(meta)


def load_weights(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"weights file {str(path)!r} not found")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable safetensors file ({exc})") from exc


def split_prefix(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix.`` with the prefix removed."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


def model_id(path: str | os.PathLike) -> str:
    """A short content hash of config.json + model.safetensors: names the exact model that made an output."""
    path = Path(path)
    h = hashlib.sha256()
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        f = path / name
        if f.is_file():
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]
