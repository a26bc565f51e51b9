"""Training a video model: Moving MNIST recipes -> objective -> the one Trainer -> validation.

Shared by ``aigc train video``, the demo and ``benchmarks/video_mmnist.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from aigc.core.errors import BadInputError
from aigc.core.registry import resolve
from aigc.train.config import TrainConfig
from aigc.video.task import TASK

__all__ = ["VideoSettings", "train", "build_objective", "DATA_SOURCES", "VAL_SEQUENCES"]

# --data -> digit source (see aigc.data.moving_mnist.load_digits)
DATA_SOURCES = {"moving-mnist": "mnist", "moving-digits": "digits"}
VAL_SEQUENCES = 256  # held-out sequences scored after training (MNIST test digits)
VAL_SEED = 1_234  # differs from the benchmark test set's seed
# --width / --layers -> the architecture's config field
_WIDTH = {"convlstm": "hidden", "simvp": "hid_t", "layered": "width", "interp": "width", "diffusion": "width",
          "clip-classifier": "width"}
_LAYERS = {"convlstm": "layers", "simvp": "blocks", "layered": "blocks", "interp": "blocks", "diffusion": "blocks"}


@dataclass(kw_only=True)
class VideoSettings:
    """What to train (field names are the ``aigc train video`` flag destinations)."""

    arch: str = "simvp"
    data: str = "moving-mnist"
    sequences: int = 100_000  # training pool (2 digits + trajectories each); frames rendered per batch
    context: int = 10
    future: int = 10
    frames: int = 16  # clip length of --arch diffusion (one digit, 32x32)
    width: int | None = None  # convlstm hidden / simvp translator / layered U-Net bottom / interp width
    layers: int | None = None  # convlstm layers / simvp translator / layered bottom / interp blocks
    patch: int | None = None
    translator: str = "tau"  # simvp: "tau" or "conv" (see aigc.video.simvp)
    validate: bool = True

    def __post_init__(self) -> None:
        if self.arch not in TASK.architectures:
            raise BadInputError(f"unknown video architecture {self.arch!r}; choose one of "
                                f"{sorted(TASK.architectures)}")
        if self.data not in DATA_SOURCES:
            raise BadInputError(f"--data {self.data!r}: use one of {sorted(DATA_SOURCES)}")
        if not 1 <= self.sequences <= 10_000_000:
            raise BadInputError(f"--sequences must be between 1 and 10,000,000, got {self.sequences}")
        if self.context < 1 or self.future < 1 or self.context + self.future > 100:
            raise BadInputError(f"--context and --future must be >= 1 and sum to <= 100, got "
                                f"{self.context} and {self.future}")
        if not 2 <= self.frames <= 100:
            raise BadInputError(f"--frames must be between 2 and 100, got {self.frames}")
        if self.translator not in ("tau", "conv"):
            raise BadInputError(f"--translator must be tau or conv, got {self.translator!r}")
        if self.translator != "tau" and self.arch != "simvp":
            raise BadInputError(f"--translator is a simvp setting; --arch {self.arch} has none")


def build_objective(settings: VideoSettings) -> Any:
    """The architecture's objective with the settings' sizes (others at the config defaults)."""
    cls = resolve(TASK.architectures[settings.arch])
    fields: dict[str, Any] = {}
    if settings.arch in ("convlstm", "simvp", "layered"):
        fields.update(context=settings.context, future=settings.future)
    if settings.arch == "simvp" and settings.translator == "conv":
        from aigc.video.simvp import CONV_PRESET

        fields.update(translator="conv", **CONV_PRESET)
    elif settings.arch in ("diffusion", "clip-classifier"):
        fields.update(frames=settings.frames)
    for flag, value, table in (("--width", settings.width, _WIDTH), ("--layers", settings.layers, _LAYERS)):
        if value is not None:
            if settings.arch not in table:
                raise BadInputError(f"--arch {settings.arch} has no {flag}; leave it out")
            fields[table[settings.arch]] = value
    if settings.patch is not None:
        from dataclasses import fields as config_fields

        if "patch" not in {f.name for f in config_fields(cls.config_class)}:
            raise BadInputError(f"--arch {settings.arch} has no --patch; leave it out")
        fields["patch"] = settings.patch
    try:
        return cls(cls.config_class(**fields))
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{settings.arch} model settings: {exc}") from exc


def _validate(settings: VideoSettings, frames_needed: int):
    def after_fit(trainer: Any, summary: dict) -> None:
        from aigc.data.moving_mnist import load_digits, render_numpy, sample_sequences
        from aigc.video.evaluate import evaluate_model

        images, _ = load_digits("test", DATA_SOURCES[settings.data])
        spec = sample_sequences(VAL_SEQUENCES, len(images), VAL_SEED, frames=max(20, frames_needed))
        frames = render_numpy(spec, images)
        nets = trainer.sampling_networks()
        for net in nets.values():
            net.eval()
        scores = evaluate_model(trainer.objective, nets, frames, device=trainer.device, progress=False)
        summary["val"] = {k: v for k, v in scores.items() if not k.endswith("_per_step")}
    return after_fit


def train(settings: VideoSettings, config: TrainConfig, out: str | os.PathLike, *,
          resume: bool = False) -> dict[str, Any]:
    """Train ``settings.arch`` on Moving MNIST sequences drawn with ``config.seed`` into ``out``;
    the summary holds the Trainer's figures and ``val`` (scores on held-out test-digit sequences)."""
    from aigc.data.images import DIGIT_NAMES
    from aigc.data.moving_mnist import FRAMES, load_digits, train_tensors

    probe = build_objective(settings)  # cheap: tells the frames a training sequence needs
    frames = max(FRAMES, probe.frames_needed) if probe.kind == "interpolation" else probe.frames_needed
    n_digits = getattr(probe, "digits_per_clip", 2)
    images, labels = load_digits("train", DATA_SOURCES[settings.data])
    data = train_tensors(settings.sequences, config.seed, images=images, labels=labels, frames=frames,
                         n_digits=n_digits)
    meta = {"data": {"source": settings.data, "sequences": settings.sequences, "frames": frames,
                     "canvas": 64, "digits_per_sequence": n_digits, "seed": config.seed,
                     "class_names": list(DIGIT_NAMES)}}
    validate = settings.validate and probe.kind in ("prediction", "interpolation")
    from aigc.train.run import run_training  # torch: not for `--help`

    return run_training(task=TASK.name, architecture=settings.arch, settings=settings,
                        objective=lambda: build_objective(settings), data=data, config=config, out=out,
                        resume=resume, meta=meta, after_fit=_validate(settings, frames) if validate else None)
