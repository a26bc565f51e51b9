"""``train()``: the one way to train an image classifier (CLI, demo, benchmarks and tools call it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from aigc.core.config import model_config_with
from aigc.core.errors import BadInputError
from aigc.core.registry import architecture
from aigc.train.config import TrainConfig
from aigc.train.run import run_training

__all__ = ["TASK", "ClassifySettings", "load_data", "model_config", "train"]

TASK = "classify"


@dataclass(kw_only=True)
class ClassifySettings:
    """What to train besides the loop's settings; field names are the CLI flags' destinations."""

    arch: str = "cnn"
    data: str = "digits"  # digits, mnist, fashion-mnist or folder:PATH (sub-folders = classes)
    split: str = "train"
    image_size: int | None = None  # default: the data's size rounded up to a multiple of 4
    channels: int | None = None
    widths: tuple[int, int] | None = None
    hidden: int | None = None
    norm: str | None = None
    activation: str | None = None
    skip_bad: bool = False
    model: dict[str, Any] = field(default_factory=dict)  # any other model config field

    def __post_init__(self) -> None:
        if self.widths is not None:
            self.widths = tuple(int(w) for w in self.widths)  # type: ignore[assignment]


def default_size(height: int) -> int:
    """The smallest multiple of 4 that holds ``height`` pixels (8x8 digits stay 8, MNIST 28)."""
    return max(4, -(-height // 4) * 4)


def load_data(source: str, *, split: str, image_size: int | None, channels: int | None,
              skip_bad: bool = False) -> Any:
    """An :class:`aigc.data.images.ImageSet` with labels, at the model's size."""
    from aigc.data.images import load_image_source

    probe = load_image_source(source, split=split, channels=channels, skip_bad=skip_bad)
    if probe.labels is None or not probe.class_names:
        raise BadInputError(f"--data {source}: a classifier needs labelled images (digits, mnist, "
                            "fashion-mnist, or folder:PATH with one sub-folder per class)")
    size = image_size or default_size(probe.images.shape[-1])
    if size != probe.images.shape[-1] or probe.images.shape[-1] != probe.images.shape[-2]:
        from aigc.data.transforms import resize

        probe.images = resize(probe.images, size)
    if probe.skipped:
        print(f"skipped {len(probe.skipped)} unreadable file(s), e.g. {probe.skipped[0]}")
    return probe


def model_config(settings: ClassifySettings, data: Any) -> Any:
    cls = architecture(TASK, settings.arch).config_class
    fields: dict[str, Any] = {"image_size": int(data.images.shape[-1]), "channels": int(data.images.shape[1]),
                              "num_classes": len(data.class_names), "class_names": tuple(data.class_names)}
    for key in ("widths", "hidden", "norm", "activation"):
        if getattr(settings, key) is not None:
            fields[key] = getattr(settings, key)
    return model_config_with(cls, settings.arch, fields, settings.model)


def train(settings: ClassifySettings, config: TrainConfig, out: str | os.PathLike, *,
          resume: bool = False) -> dict[str, Any]:
    """Train ``settings.arch`` on ``settings.data`` into the model directory ``out``."""
    data = load_data(settings.data, split=settings.split, image_size=settings.image_size,
                     channels=settings.channels, skip_bad=settings.skip_bad)
    model_cfg = model_config(settings, data)
    cls = architecture(TASK, settings.arch)
    return run_training(task=TASK, architecture=settings.arch, settings=settings,
                        objective=lambda: cls(model_cfg),
                        data={"images": data.images, "labels": data.labels}, config=config, out=out,
                        resume=resume, meta={"data": data.spec()})
