"""Training a music model end to end: pieces -> training tensors -> objective -> Trainer -> NLL.

Shared by ``aigc train music``, the demo and ``benchmarks/music_jsb.py``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc.core.config import config_from_dict
from aigc.core.errors import BadInputError
from aigc.core.registry import resolve
from aigc.data.music import (
    MusicData,
    load_jsb_voices,
    load_music,
    parse_music_spec,
    roll_to_events,
    roll_to_voices,
)
from aigc.music.task import TASK as MUSIC_TASK
from aigc.train.config import TrainConfig
from aigc.train.run import run_training

__all__ = ["MusicSettings", "train", "build_tensors", "roll_windows", "token_windows", "voice_windows"]

TASK = "music"
ARCH_TARGETS = MUSIC_TASK.architectures
DATA_FIELDS = ("arch", "data", "skip_bad", "steps_per_beat")
BEATS_PER_BAR = 4  # chorales are in 4/4 (a few in 3/4; bars only mark positions)


@dataclass(kw_only=True)
class MusicSettings:
    """What to train; ``None`` model fields take the architecture's defaults."""

    arch: str = "frame"
    data: str = "jsb:quarter"
    skip_bad: bool = False
    steps_per_beat: int = 4  # folder:PATH only; JSB has its own resolution
    rnn: str | None = None
    hidden: int | None = None
    layers: int | None = None
    nade_hidden: int | None = None
    heads: int | None = None
    embed: int | None = None
    channels: int | None = None
    blocks: int | None = None
    context: int | None = None
    dropout: float | None = None
    transpose: int | None = None
    crop: int | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCH_TARGETS:
            raise BadInputError(f"--arch {self.arch!r}: choose one of {sorted(ARCH_TARGETS)}")
        parse_music_spec(self.data)

    def model_config(self) -> Any:
        """The architecture's config from the model fields given; a field the architecture does
        not have is an error naming its flag (the frame model takes ``context`` as its window)."""
        cls = resolve(ARCH_TARGETS[self.arch]).config_class
        names = {f.name for f in dataclasses.fields(cls)}
        given = {k: v for k, v in dataclasses.asdict(self).items() if k not in DATA_FIELDS and v is not None}
        stray = sorted(set(given) - names - ({"context"} if self.arch == "frame" else set()))
        if stray:
            flags = ", ".join("--" + k.replace("_", "-") for k in stray)
            raise BadInputError(f"{flags} do(es) not apply to --arch {self.arch}; drop it or pick another --arch")
        return config_from_dict(cls, {k: v for k, v in given.items() if k in names})


def _chunks(piece: Any, length: int) -> list:
    """``piece`` itself when it fits in ``length``, else windows of ``length`` overlapping by half
    (the last one may be shorter)."""
    if len(piece) <= length:
        return [piece]
    step = max(1, length // 2)
    return [piece[s:s + length] for s in range(0, max(1, len(piece) - length // 2), step)]


def roll_windows(rolls: list[np.ndarray], length: int) -> dict[str, torch.Tensor]:
    """Pieces -> ``roll`` (N, length, 88) float and ``mask`` (N, length); pieces longer than
    ``length`` are cut into windows overlapping by half."""
    chunks = [c for r in rolls for c in _chunks(r, length)]
    out = np.zeros((len(chunks), length, 88), dtype=np.float32)
    mask = np.zeros((len(chunks), length), dtype=np.float32)
    for i, c in enumerate(chunks):
        out[i, :len(c)], mask[i, :len(c)] = c, 1.0
    return {"roll": torch.from_numpy(out), "mask": torch.from_numpy(mask)}


def token_windows(sequences: list[list[int]], context: int, pad: int) -> dict[str, torch.Tensor]:
    """Token sequences -> ``tokens`` (N, context + 1) windows overlapping by half, PAD-filled."""
    rows = [w + [pad] * (context + 1 - len(w)) for seq in sequences for w in _chunks(seq, context + 1)]
    return {"tokens": torch.tensor(rows, dtype=torch.long)}


def voice_windows(voices: list[np.ndarray], length: int) -> dict[str, torch.Tensor]:
    """(T, V) pitches (-1 = rest) -> ``voices`` (N, length, V) classes (88 = rest) and ``mask``."""
    chunks = [c for v in voices for c in _chunks(v, length)]
    n_voices = voices[0].shape[1]
    out = np.full((len(chunks), length, n_voices), 88, dtype=np.int64)
    mask = np.zeros((len(chunks), length), dtype=np.float32)
    for i, c in enumerate(chunks):
        out[i, :len(c)] = np.where(c >= 0, c - 21, 88)
        mask[i, :len(c)] = 1.0
    return {"voices": torch.from_numpy(out), "mask": torch.from_numpy(mask)}


def training_voices(settings: MusicSettings, data: MusicData) -> list[np.ndarray]:
    """Four voices per training piece: Coconet's separated JSB when the data is JSB, else the
    keys of each step ordered from the top (soprano) down."""
    kind, value = parse_music_spec(settings.data)
    if kind == "jsb":
        return load_jsb_voices("train", value)
    return [roll_to_voices(r) for r in data.train]


def build_tensors(settings: MusicSettings, model_config: Any, data: MusicData) -> dict[str, torch.Tensor]:
    """The Trainer's tensors for ``settings.arch``."""
    if settings.arch == "frame":
        length = settings.context or min(max(len(r) for r in data.train), 256)
        return roll_windows(data.train, length)
    if settings.arch == "transformer":
        vocab = model_config.vocab
        seqs = [roll_to_events(r, BEATS_PER_BAR * data.steps_per_beat, vocab) for r in data.train]
        return token_windows(seqs, model_config.context, vocab.PAD)
    return voice_windows(training_voices(settings, data), model_config.context)


def _validate(settings: MusicSettings, data: MusicData):
    def after_fit(trainer: Any, summary: dict) -> None:
        if settings.arch == "infill" or not data.valid:
            return
        from aigc.music.evaluate import dataset_nll

        nets = {k: v.eval() for k, v in trainer.sampling_networks().items()}
        summary["val_loss"] = dataset_nll(trainer.objective, nets, data.valid,
                                          BEATS_PER_BAR * data.steps_per_beat, trainer.device)
        for v in nets.values():
            v.train()

    return after_fit


def train(settings: MusicSettings, config: TrainConfig, out: str | os.PathLike, *,
          resume: bool = False) -> dict[str, Any]:
    """Train ``settings.arch`` on ``settings.data`` into ``out``; the summary has ``val_loss``
    (framewise NLL in nats per step on the validation pieces) for the frame and event models."""
    data = load_music(settings.data, steps_per_beat=settings.steps_per_beat, skip_bad=settings.skip_bad)
    if not data.train:
        raise BadInputError(f"--data {settings.data}: no training pieces")
    if data.skipped:
        print(f"skipped {len(data.skipped)} unreadable MIDI file(s), e.g. {data.skipped[0]}")
    model_config = settings.model_config()
    tensors = build_tensors(settings, model_config, data)
    cls = resolve(ARCH_TARGETS[settings.arch])

    def build_objective() -> Any:
        objective = cls(model_config)
        if settings.arch == "frame":  # output biases from the training data (resume loads weights over it)
            objective.init_from_data(tensors)
        return objective

    meta = {"data": data.spec, "music": {"steps_per_beat": data.steps_per_beat,
                                         "beats_per_bar": BEATS_PER_BAR}}
    summary = run_training(task=TASK, architecture=settings.arch, settings=settings,
                           objective=build_objective, data=tensors, config=config,
                           out=Path(out), resume=resume, meta=meta, after_fit=_validate(settings, data))
    summary["skipped"] = len(data.skipped)
    return summary
