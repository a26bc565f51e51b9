"""Building a restoration training run (objective + patches + metadata) for the CLI and benchmarks."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.core.registry import ARCHITECTURES, architecture

__all__ = ["TASK", "KINDS", "DEFAULT_DATA", "build_objective", "build_training"]

TASK = "restore"
# kind of restoration -> its architectures (the first is the default)
KINDS: dict[str, tuple[str, ...]] = {
    "sr": ("espcn", "srresnet", "srgan"),
    "denoise": ("dncnn", "dae"),
    "inpaint": ("pconv",),
    "style": ("johnson",),
}
DEFAULT_DATA = {"sr": "t91", "denoise": "train400", "inpaint": "t91", "style": "content"}
DEFAULT_PATCHES = {"sr": 8192, "denoise": 16384, "inpaint": 4096, "style": 1024}


def build_objective(kind: str, arch: str | None, **fields: Any) -> Any:
    """The objective for ``kind``/``arch`` with config fields from ``fields`` (None = default).

    Fields the architecture's config does not have are ignored only when None, else an error.
    """
    if kind not in KINDS:
        raise BadInputError(f"unknown restoration task {kind!r}; choose one of {sorted(KINDS)}")
    arch = arch or KINDS[kind][0]
    if arch not in KINDS[kind]:
        raise BadInputError(f"architecture {arch!r} is not for --task {kind}; choose one of {KINDS[kind]}")
    cls = architecture(TASK, arch)
    names = {f.name for f in dataclasses.fields(cls.config_class)}
    given = {k: v for k, v in fields.items() if v is not None}
    extra = sorted(set(given) - names)
    if extra:
        raise BadInputError(f"{arch} does not take {', '.join(extra)}; its settings are {sorted(names)}")
    try:
        return cls(cls.config_class(**given))
    except ValueError as exc:
        raise BadInputError(f"{arch}: {exc}") from exc


def build_training(kind: str, arch: str | None, data: str | None, *, patch: int | None = None,
                   patches: int | None = None, seed: int = 0, **fields: Any) -> tuple[Any, dict[str, torch.Tensor], dict]:
    """(objective, training tensors, config.json meta) for one run."""
    objective = build_objective(kind, arch, **fields)
    spec = data or DEFAULT_DATA[kind]
    patches = patches or DEFAULT_PATCHES[kind]
    tensors = objective.make_data(spec, patch=patch, n=patches, seed=seed)
    arch = arch or KINDS[kind][0]
    assert arch in ARCHITECTURES[TASK]
    meta = {"task": TASK, "architecture": arch, "kind": kind,
            "data": {"source": spec, "patches": patches, "patch": patch, "seed": seed,
                     "shapes": {k: list(v.shape) for k, v in tensors.items()}}}
    return objective, tensors, meta
