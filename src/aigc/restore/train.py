"""``train()``: the one way to train a restoration model (CLI, benchmarks and server call it), and
the pieces it is built from (objective + patches + metadata)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aigc.core.errors import BadInputError
from aigc.core.registry import architecture, task_architectures
from aigc.train.config import TrainConfig

if TYPE_CHECKING:
    import torch

__all__ = ["TASK", "KINDS", "DEFAULT_DATA", "RestoreSettings", "train", "build_objective", "build_training"]

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
        raise BadInputError(f"unknown restoration kind {kind!r}; choose one of {sorted(KINDS)}")
    arch = arch or KINDS[kind][0]
    if arch not in KINDS[kind]:
        raise BadInputError(f"architecture {arch!r} is not for --kind {kind}; choose one of {KINDS[kind]}")
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
    assert arch in task_architectures(TASK)
    meta = {"task": TASK, "architecture": arch, "kind": kind,
            "data": {"source": spec, "patches": patches, "patch": patch, "seed": seed,
                     "shapes": {k: list(v.shape) for k, v in tensors.items()}}}
    return objective, tensors, meta


@dataclass(kw_only=True)
class RestoreSettings:
    """What to train besides the training loop's settings (field names = CLI flags; None = the
    architecture's default)."""

    kind: str = "sr"  # sr, denoise, inpaint, style
    arch: str | None = None  # default: the kind's first architecture
    data: str | None = None  # default: t91 (sr, inpaint), train400 (denoise), content (style)
    scale: int | None = None
    channels: int | None = None
    features: int | None = None
    blocks: int | None = None
    depth: int | None = None
    batch_norm: bool | None = None
    sigma: float | None = None
    sigma_max: float | None = None
    loss: str | None = None
    style: str | None = None  # style image (kind style)
    vgg_weights: str | None = None
    init: str | None = None  # srgan: start the generator from this srresnet model directory
    patch: int | None = None
    patches: int | None = None


_MODEL_FIELDS = ("scale", "channels", "features", "blocks", "depth", "batch_norm", "sigma", "sigma_max",
                 "loss", "vgg_weights")


def train(settings: RestoreSettings, config: TrainConfig, out: str | os.PathLike, *,
          resume: bool = False) -> dict[str, Any]:
    """Train a restoration model on patches cut (seeded by ``config.seed``) from ``settings.data``."""
    fields = {k: getattr(settings, k) for k in _MODEL_FIELDS}
    from aigc.train.objective import InitFrom
    from aigc.train.run import build_seeded, run_training  # torch: not for `--help`

    objective, tensors, meta = build_seeded(config.seed, lambda: build_training(
        settings.kind, settings.arch, settings.data, patch=settings.patch, patches=settings.patches,
        seed=config.seed, **fields))
    if settings.kind == "style":
        objective.set_style_image(settings.style, meta)
    elif settings.style:
        raise BadInputError("--style is for --kind style (or use `aigc stylize`)")
    if settings.init:
        if not isinstance(objective, InitFrom):
            raise BadInputError(f"--init works with --arch srgan, not {meta['architecture']}")
        objective.init_from(settings.init)
    meta = {k: v for k, v in meta.items() if k not in ("task", "architecture")}
    return run_training(task=TASK, architecture=objective_arch(settings), settings=settings,
                        objective=objective, data=tensors, config=config, out=out, resume=resume, meta=meta)


def objective_arch(settings: RestoreSettings) -> str:
    """The architecture a run of ``settings`` trains (the kind's first when none is named)."""
    if settings.kind not in KINDS:
        raise BadInputError(f"unknown restoration kind {settings.kind!r}; choose one of {sorted(KINDS)}")
    return settings.arch or KINDS[settings.kind][0]
