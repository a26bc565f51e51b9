"""``train()``: the one way to train an audio model (CLI, demo, benchmark and server call it).

``--arch recognizer`` trains the digit/speaker CNN on waves; ``--arch mel-diffusion`` trains the
digit- and speaker-conditioned mel diffusion model on log-mels of the same clips; ``--arch vocoder``
trains the neural vocoder (log-mel -> wave) on the waves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

from aigc.core.config import model_config_with
from aigc.core.errors import BadInputError
from aigc.core.registry import architecture
from aigc.train.config import TrainConfig
from aigc.train.run import run_training

__all__ = ["TASK", "AudioSettings", "load_training_data", "model_config", "train"]

TASK = "audio"


@dataclass(kw_only=True)
class AudioSettings:
    """What to train besides the loop's settings; field names are the CLI flags' destinations
    (``--clip-seconds`` -> ``clip_seconds``). None takes the architecture's default."""

    arch: str = "recognizer"
    data: str = "fsdd"  # fsdd (official split) or folder:PATH (sub-folders = digits)
    split: str = "train"
    sample_rate: int = 8000
    clip_seconds: float = 0.752  # 6016 samples at 8 kHz = 48 mel frames at hop 128
    skip_bad: bool = False
    channels: int | None = None  # network width
    n_mels: int | None = None
    model: dict[str, Any] = field(default_factory=dict)  # any other model config field


def model_config(settings: AudioSettings, data: Any) -> Any:
    """The architecture's config from the settings and the data's class and speaker names."""
    cls = architecture(TASK, settings.arch).config_class
    names = cls.__dataclass_fields__
    hop = settings.model.get("hop", names["hop"].default)
    # frames = 1 + clip // hop, rounded to a multiple of 4 (the synthesiser's U-Net halves it twice)
    frames = max(4, 4 * round((settings.clip_seconds * settings.sample_rate / hop + 1) / 4))
    clip = (frames - 1) * hop
    fields: dict[str, Any] = {"sample_rate": settings.sample_rate, "clip_samples": clip}
    if data.class_names:
        fields.update(num_classes=len(data.class_names), class_names=tuple(data.class_names))
    speakers = data.speaker_names or ["unknown"]
    fields.update(num_speakers=len(speakers), speaker_names=tuple(speakers))
    fields = {k: v for k, v in fields.items() if k in names}  # a vocoder has no classes
    for key in ("channels", "n_mels"):
        if getattr(settings, key) is not None:
            fields[key] = getattr(settings, key)
    return model_config_with(cls, settings.arch, fields, settings.model)


def load_training_data(settings: AudioSettings) -> Any:
    from aigc.data.audio import load_audio_source

    data = load_audio_source(settings.data, split=settings.split, sr=settings.sample_rate,
                             skip_bad=settings.skip_bad)
    if data.labels is None:
        raise BadInputError(f"--data {settings.data}: the clips need labels (one sub-folder per digit)")
    if data.skipped:
        print(f"skipped {len(data.skipped)} unreadable file(s), e.g. {data.skipped[0]}")
    return data


def _tensors(objective: Any, data: Any) -> dict[str, torch.Tensor]:
    from aigc.audio.sequence import centered_clips

    cfg = objective.config
    waves = torch.from_numpy(centered_clips(data.waves, data.sr, cfg.clip_samples))
    speakers = data.speakers if data.speakers is not None else torch.zeros(len(data), dtype=torch.long)
    if hasattr(objective, "encode"):  # the synthesiser learns mels: compute them once
        return {"mel": objective.encode(waves), "digit": data.labels, "speaker": speakers}
    return {"wave": waves, "digit": data.labels, "speaker": speakers}


def train(settings: AudioSettings, config: TrainConfig, out: str | os.PathLike, *,
          resume: bool = False) -> dict[str, Any]:
    """Train ``settings.arch`` on ``settings.data`` into the model directory ``out``."""
    data = load_training_data(settings)
    model_cfg = model_config(settings, data)
    cls = architecture(TASK, settings.arch)
    objective = _build(cls, model_cfg, config.seed)
    return run_training(task=TASK, architecture=settings.arch, settings=settings, objective=objective,
                        data=_tensors(objective, data), config=config, out=out, resume=resume,
                        meta={"data": data.spec()})


def _build(cls: Any, model_cfg: Any, seed: int) -> Any:
    from aigc.train.run import build_seeded

    return build_seeded(seed, lambda: cls(model_cfg))
