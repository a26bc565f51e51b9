"""``train()``: the one way to train an image generator (CLI, demo, benchmarks and server call it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from aigc.core.config import model_config_with
from aigc.core.errors import BadInputError
from aigc.core.registry import architecture
from aigc.train.config import TrainConfig
from aigc.train.objective import FitsOnce
from aigc.train.run import run_fit, run_training

__all__ = ["TASK", "ImageGenSettings", "train", "model_config"]

TASK = "image-gen"


@dataclass(kw_only=True)
class ImageGenSettings:
    """What to train besides the training loop's settings. Field names are the CLI flags'
    (``--image-size`` -> ``image_size``); None takes the architecture's default."""

    arch: str = "dcgan"
    data: str = "digits"  # digits, faces, mnist, fashion-mnist or folder:PATH
    split: str = "train"
    image_size: int = 32
    channels: int | None = None  # default: the data's
    latent_dim: int | None = None
    features: int | None = None  # width of the 4x4 layers
    d_norm: str | None = None  # GAN discriminator normalisation (batch, none, spectral); DP-SGD needs none
    hflip: bool = False
    skip_bad: bool = False
    cond: bool = False  # class-conditional on the data's labels
    timesteps: int | None = None  # ddpm
    schedule_kind: str | None = None  # ddpm noise schedule
    diag_every: int = 0
    diag_features: str | None = None
    model: dict[str, Any] = field(default_factory=dict)  # any other model config field, e.g. real_label


def model_config(settings: ImageGenSettings, channels: int, data: Any = None) -> Any:
    """The architecture's config dataclass from ``settings`` (and the data, for class counts)."""
    from aigc.image_gen.cli_options import family_fields

    cls = architecture(TASK, settings.arch).config_class
    names = cls.__dataclass_fields__
    fields: dict[str, Any] = {"image_size": settings.image_size, "channels": channels, "hflip": settings.hflip}
    if data is not None:
        fields.update(family_fields(settings, cls, data))
    if settings.latent_dim and "latent_dim" in names:
        fields["latent_dim"] = settings.latent_dim
    if settings.features:
        fields.update({k: settings.features for k in ("g_features", "d_features", "features") if k in names})
    if settings.d_norm is not None:
        if "d_norm" not in names:
            raise BadInputError(f"--d-norm applies to the GANs, not {settings.arch!r}")
        fields["d_norm"] = settings.d_norm
    return model_config_with(cls, settings.arch, fields, settings.model)


def train(settings: ImageGenSettings, config: TrainConfig, out: str | os.PathLike, *,
          resume: bool = False) -> dict[str, Any]:
    """Train ``settings.arch`` on ``settings.data`` into the model directory ``out``."""
    from aigc.data.images import load_image_source

    data = load_image_source(settings.data, split=settings.split, image_size=settings.image_size,
                             channels=settings.channels, skip_bad=settings.skip_bad)
    if data.skipped:
        print(f"skipped {len(data.skipped)} unreadable file(s), e.g. {data.skipped[0]}")
    model_cfg = model_config(settings, data.images.shape[1], data)
    cls = architecture(TASK, settings.arch)
    tensors = {"images": data.images}
    if getattr(model_cfg, "num_classes", 0):
        tensors["labels"] = data.labels
    if issubclass(cls, FitsOnce):  # fitted in one pass (e.g. gauss), not by gradient steps
        return run_fit(task=TASK, architecture=settings.arch, settings=settings, objective=lambda: cls(model_cfg),
                       data=tensors, config=config, out=out, resume=resume, meta={"data": data.spec()})
    return run_training(task=TASK, architecture=settings.arch, settings=settings,
                        objective=lambda: cls(model_cfg), data=tensors, config=config, out=out,
                        resume=resume, meta={"data": data.spec()}, after_fit=_fit_prior(data.images, config))


def _fit_prior(images: Any, config: TrainConfig) -> Any:
    """After training: objectives with ``fit_prior`` (the VAE's latent mixture) fit it on the
    training images and the weights are written again. Not under DP-SGD, whose accounting covers
    the gradient steps only."""

    def after_fit(trainer: Any, summary: dict[str, Any]) -> None:
        objective = trainer.objective
        if not hasattr(objective, "fit_prior") or not trainer.dist.is_main:
            return
        if "dp" in config.extensions:
            print("note: trained with DP-SGD, so sampling keeps the N(0, I) prior (a latent mixture fitted "
                  "to the private images would spend privacy the accountant does not count)")
            return
        figures = objective.fit_prior(trainer.raw, images, seed=config.seed)
        if figures:
            trainer.write_weights()
            summary.update(figures)

    return after_fit
