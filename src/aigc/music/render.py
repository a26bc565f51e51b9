"""Making a piano-roll visible and audible: a PNG picture and a WAV rendering (FluidSynth with a
soundfont when installed, else a built-in additive synthesiser, so a user can always listen), and
the MIDI file.

Every file carries the recipe: MIDI in a text meta event, PNG in text chunks, WAV in its comment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from aigc.core.artifacts import save_midi, save_png, save_wav
from aigc.data.midi import midi_bytes, roll_to_midi
from aigc.data.music import LOWEST, note_spans

__all__ = ["roll_image", "synthesize", "write_midi", "write_png", "write_wav", "fluidsynth", "SAMPLE_RATE"]

SAMPLE_RATE = 22_050
PARTIALS = (1.0, 0.5, 0.25, 0.12, 0.06)  # organ-like harmonic amplitudes


def roll_image(roll: np.ndarray, *, cell: int | None = None, key_px: int = 6) -> np.ndarray:
    """``(T, 88)`` roll -> ``(H, W, 3)`` uint8 picture: time left to right, high keys on top, notes
    in dark blue, C rows in light grey, a thin vertical line at every 4th step.
    ``cell`` (pixels per step) defaults to what makes the picture about 800 pixels wide."""
    cell = cell or max(2, min(24, 800 // max(1, len(roll))))
    roll = np.asarray(roll, dtype=bool)
    cols = np.flatnonzero(roll.any(axis=0))
    lo, hi = (max(0, cols[0] - 3), min(87, cols[-1] + 3)) if len(cols) else (27, 60)
    view = roll[:, lo:hi + 1].T[::-1]  # (keys, T), highest first
    img = np.full(view.shape + (3,), 255, dtype=np.uint8)
    keys = np.arange(hi, lo - 1, -1) + LOWEST
    img[keys % 12 == 0] = (225, 225, 225)
    img[view] = (30, 60, 160)
    img = np.repeat(np.repeat(img, key_px, axis=0), cell, axis=1)
    bars = np.arange(0, len(roll), 4) * cell  # a thin line every 4th step (a bar at quarter notes)
    img[:, bars] = np.minimum(img[:, bars], 170)
    return img


def synthesize(roll: np.ndarray, steps_per_beat: int, tempo: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Additive-synth rendering, float32 mono in [-1, 1]: each note is a sum of harmonic sines with
    a short attack and an exponential decay; a held key is one note."""
    roll = np.asarray(roll, dtype=bool)
    step = 60.0 / (tempo * steps_per_beat)
    n = int(round((len(roll) * step + 0.5) * sr))
    out = np.zeros(n, dtype=np.float64)
    for a, b, pitch in zip(*note_spans(roll), strict=True):
        _add_note(out, int(pitch), int(a * step * sr), int(b * step * sr), sr)
    peak = np.abs(out).max()
    return (out / peak * 0.8 if peak > 0 else out).astype(np.float32)


def _add_note(out: np.ndarray, pitch: int, start: int, end: int, sr: int) -> None:
    release = int(0.08 * sr)
    length = min(end - start + release, len(out) - start)
    if length <= 0:
        return
    t = np.arange(length) / sr
    freq = 440.0 * 2 ** ((pitch - 69) / 12)
    wave = sum(a * np.sin(2 * np.pi * freq * (i + 1) * t) for i, a in enumerate(PARTIALS)
               if freq * (i + 1) < sr / 2)
    env = np.minimum(1.0, t / 0.01) * np.exp(-1.5 * t)
    held = end - start
    if held < length:  # release after the note's end
        env[held:] *= np.linspace(1.0, 0.0, length - held)
    out[start:start + length] += wave * env


def write_midi(path: str | os.PathLike, roll: np.ndarray, *, steps_per_beat: int, tempo: float,
               recipe: Mapping[str, Any] | None = None, voices: np.ndarray | None = None) -> Path:
    """The roll (or ``voices``, one track each) as a standard MIDI file with the recipe."""
    pm = roll_to_midi(roll, steps_per_beat=steps_per_beat, tempo=tempo, voices=voices)
    return save_midi(path, midi_bytes(pm), recipe)


def write_png(path: str | os.PathLike, roll: np.ndarray, recipe: Mapping[str, Any] | None = None) -> Path:
    return save_png(path, roll_image(roll), metadata=dict(recipe or {}))


def write_wav(path: str | os.PathLike, roll: np.ndarray, *, steps_per_beat: int, tempo: float,
              recipe: Mapping[str, Any] | None = None, sr: int = SAMPLE_RATE,
              midi: str | os.PathLike | None = None) -> Path:
    """16-bit WAV with the recipe: ``midi`` rendered by FluidSynth when the ``fluidsynth`` program
    and a soundfont (``$AIGC_SOUNDFONT`` or a system General MIDI one) are installed, else
    :func:`synthesize`. The recipe says which (``renderer``)."""
    found = fluidsynth() if midi is not None else None
    if found is not None:
        wave = _fluidsynth_render(found, Path(midi), sr)
        return save_wav(path, wave, sr, {**dict(recipe or {}), "renderer": f"fluidsynth:{found[1].name}"})
    return save_wav(path, synthesize(roll, steps_per_beat, tempo, sr), sr,
                    {**dict(recipe or {}), "renderer": "additive"})


SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
              "/usr/share/sounds/sf2/default-GM.sf2", "/usr/share/soundfonts/default.sf2")


def fluidsynth() -> tuple[str, Path] | None:
    """(the fluidsynth program, a soundfont) when both are installed, else None."""
    import shutil

    program = shutil.which("fluidsynth")
    candidates = [os.environ.get("AIGC_SOUNDFONT", ""), *SOUNDFONTS]
    font = next((Path(c) for c in candidates if c and Path(c).is_file()), None)
    return (program, font) if program and font else None


def _fluidsynth_render(found: tuple[str, Path], midi: Path, sr: int) -> np.ndarray:
    import subprocess
    import tempfile

    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "render.wav"
        subprocess.run([found[0], "-ni", "-g", "0.8", "-r", str(sr), "-F", str(out), str(found[1]), str(midi)],
                       check=True, capture_output=True, timeout=600)
        wave, _ = sf.read(str(out), dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    peak = float(np.abs(wave).max()) if len(wave) else 0.0
    return wave / peak * 0.8 if peak > 0 else wave
