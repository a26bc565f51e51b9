"""Inference for music models: ``generate`` (unconditional or continuing a prompt), ``harmonize``
(given a soprano line, write alto, tenor and bass) and ``save`` (MIDI + piano-roll PNG + WAV, each
with the recipe). The same model, seed and parameters give the same MIDI bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc.core.errors import BadInputError
from aigc.core.pipeline import Pipeline
from aigc.core.seed import make_generator
from aigc.data.midi import read_midi
from aigc.data.music import KEYS, LOWEST, roll_to_voices, voices_to_roll
from aigc.music.infill import REST
from aigc.music.render import write_midi, write_png, write_wav
from aigc.music.sampling import gibbs_infill, sample_events, sample_frames

__all__ = ["MusicPipeline", "melody_line", "VOICE_RANGES"]

# MIDI ranges of alto, tenor and bass in harmonisation: the usual choir ranges, widened to what the
# JSB chorales use (bass down to C2)
VOICE_RANGES = ((53, 77), (48, 69), (36, 64))


def melody_line(source: str | os.PathLike | np.ndarray, steps_per_beat: int) -> np.ndarray:
    """The top line of a MIDI file or a roll as ``(T,)`` MIDI pitches, -1 where nothing sounds."""
    roll = read_midi(source, steps_per_beat) if not isinstance(source, np.ndarray) else source
    if roll.ndim == 1:
        return np.asarray(roll, dtype=np.int64)
    return roll_to_voices(roll, 1)[:, 0]


class MusicPipeline(Pipeline):
    """A trained music model (frame, transformer or infill) loaded from a model directory."""

    task = "music"

    @property
    def steps_per_beat(self) -> int:
        return int(self.config.get("music", {}).get("steps_per_beat", 1))

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_beat * int(self.config.get("music", {}).get("beats_per_bar", 4))

    @property
    def kind(self) -> str:
        return self.objective.kind

    # ------------------------------------------------------------------ generation
    def generate(self, *, bars: int = 8, temperature: float = 1.0, top_p: float = 1.0, seed: int = 0,
                 prompt: np.ndarray | str | os.PathLike | None = None, iterations: int = 64,
                 progress: bool = False) -> np.ndarray:
        """A ``(T, 88)`` roll: ``bars`` new bars, after ``prompt`` (a roll or a MIDI file) when given.

        ``temperature`` scales every model's logits; ``top_p`` (nucleus) applies to the event
        Transformer; ``iterations`` are the infill model's Gibbs rounds; ``progress`` shows a bar.
        """
        if bars < 1 or not temperature > 0 or not 0 < top_p <= 1:
            raise BadInputError(f"need --bars >= 1, --temperature > 0 and 0 < --top-p <= 1 "
                                f"(got {bars}, {temperature}, {top_p})")
        if prompt is not None and not isinstance(prompt, np.ndarray):
            prompt = read_midi(prompt, self.steps_per_beat)
        if prompt is not None and (prompt.ndim != 2 or prompt.shape[1] != KEYS):
            raise BadInputError(f"a prompt roll must be (steps, {KEYS}), got shape {prompt.shape}")
        steps, g = bars * self.steps_per_bar, make_generator(seed, self.device)
        net = self.nets["model"]
        if self.kind == "roll":
            return sample_frames(net, steps, prompt=prompt, temperature=temperature, generator=g,
                                 device=self.device, progress=progress)
        if self.kind == "events":
            return sample_events(net, steps, vocab=self.objective.config.vocab, steps_per_bar=self.steps_per_bar,
                                 prompt=prompt, temperature=temperature, top_p=top_p, generator=g,
                                 device=self.device, progress=progress)
        return self._infill_generate(steps, prompt, temperature, iterations, g, progress)

    def _infill_generate(self, steps: int, prompt: np.ndarray | None, temperature: float, iterations: int,
                         g: torch.Generator, progress: bool) -> np.ndarray:
        v = self.objective.config.voices
        known = roll_to_voices(prompt, v) if prompt is not None else np.zeros((0, v), np.int64)
        pitches = np.concatenate([known, np.full((steps, v), -1, np.int64)])
        classes = np.where(pitches >= 0, pitches - LOWEST, REST)
        fixed = np.zeros(classes.shape, dtype=bool)
        fixed[:len(known)] = True
        out = gibbs_infill(self.objective, self.nets, classes, fixed, iterations=iterations,
                           temperature=temperature, generator=g, device=self.device, progress=progress)
        return voices_to_roll(np.where(out < KEYS, out + LOWEST, -1))

    def generate_many(self, n: int, *, bars: int = 8, seed: int = 0, progress: bool = False,
                      **params: Any) -> list[np.ndarray]:
        """``n`` pieces with seeds ``seed, seed + 1, ...``."""
        from tqdm.auto import tqdm

        return [self.generate(bars=bars, seed=seed + i, **params)
                for i in tqdm(range(n), desc="generate", disable=not progress)]

    def harmonize(self, melody: np.ndarray | str | os.PathLike, *, temperature: float = 0.7,
                  iterations: int = 96, seed: int = 0, progress: bool = False) -> np.ndarray:
        """Alto, tenor and bass under a soprano: ``melody`` is a MIDI file, a roll (its top line is
        taken) or ``(T,)`` pitches (-1 = rest). Returns ``(T, 4)`` pitches with column 0 equal to
        the melody; no other voice goes above the soprano, and where the melody rests all rest."""
        line = melody_line(melody, self.steps_per_beat)
        if len(line) == 0 or (line < 0).all():
            raise BadInputError(f"{melody if not isinstance(melody, np.ndarray) else 'melody'}: no notes to harmonise")
        if ((line >= 0) & ((line < LOWEST) | (line >= LOWEST + KEYS))).any():
            raise BadInputError("melody pitches must lie on the piano (MIDI 21-108)")
        g = make_generator(seed, self.device)
        if self.kind == "voices":
            return self._harmonize_infill(line, temperature, iterations, g, progress)
        if self.kind == "roll":
            return self._harmonize_frames(line, temperature, g, progress)
        raise BadInputError(f"a {self.architecture!r} model cannot harmonise; use an infill (or frame) model")

    def _harmonize_infill(self, line: np.ndarray, temperature: float, iterations: int,
                          g: torch.Generator, progress: bool) -> np.ndarray:
        v = self.objective.config.voices
        classes = np.full((len(line), v), REST, dtype=np.int64)
        classes[:, 0] = np.where(line >= 0, line - LOWEST, REST)
        fixed = np.zeros(classes.shape, dtype=bool)
        fixed[:, 0] = True
        fixed[line < 0] = True  # where the tune rests, the choir rests
        allowed = np.ones(classes.shape + (KEYS + 1,), dtype=bool)
        ceiling = np.where(line >= 0, line - LOWEST, KEYS - 1)
        keys = np.arange(KEYS)[None, :]
        allowed[:, 1:, :KEYS] = keys[:, None, :] <= ceiling[:, None, None]  # nobody above the tune
        if v == len(VOICE_RANGES) + 1:  # alto, tenor, bass stay in their choir ranges
            for i, (lo, hi) in enumerate(VOICE_RANGES, start=1):
                allowed[:, i, :KEYS] &= (keys >= lo - LOWEST) & (keys <= hi - LOWEST)
        out = gibbs_infill(self.objective, self.nets, classes, fixed, iterations=iterations,
                           temperature=temperature, generator=g, allowed=allowed, device=self.device,
                           progress=progress)
        return np.where(out < KEYS, out + LOWEST, -1)

    def _harmonize_frames(self, line: np.ndarray, temperature: float, g: torch.Generator,
                          progress: bool) -> np.ndarray:
        """The RNN-NADE with the soprano's key forced on and every key above it forced off (a
        silent soprano silences the step)."""
        cons = np.full((len(line), KEYS), -1, dtype=np.int64)
        for t, p in enumerate(line):
            if p < 0:
                cons[t] = 0
            else:
                cons[t, p - LOWEST] = 1
                cons[t, p - LOWEST + 1:] = 0
        roll = sample_frames(self.nets["model"], len(line), temperature=temperature, generator=g,
                             constraints=cons, device=self.device, progress=progress)
        voices = roll_to_voices(roll, 4)
        voices[:, 0] = line
        return voices

    # ------------------------------------------------------------------ output
    def save(self, music: np.ndarray, path: str | os.PathLike, *, seed: int, tempo: float = 100.0,
             png: bool = True, wav: bool = True, **params: Any) -> dict[str, Path]:
        """Write ``path`` (.mid) and, beside it, ``.png`` and ``.wav``; ``music`` is a ``(T, 88)``
        roll or ``(T, 4)`` voices (written as four tracks). Every file carries the recipe."""
        path = Path(path)
        if path.suffix.lower() not in (".mid", ".midi"):
            raise BadInputError(f"--out {path}: give a .mid file name")
        recipe = self.recipe(seed=seed, tempo=tempo, **params)
        voices = music if music.ndim == 2 and music.shape[1] != KEYS else None
        roll = voices_to_roll(voices) if voices is not None else music
        pm_kwargs = {"steps_per_beat": self.steps_per_beat, "tempo": tempo, "recipe": recipe}
        out = {"midi": write_midi(path, roll, voices=voices, **pm_kwargs)}
        if png:
            out["png"] = write_png(path.with_suffix(".png"), roll, recipe)
        if wav:
            out["wav"] = write_wav(path.with_suffix(".wav"), roll, midi=out["midi"], **pm_kwargs)
        return out
