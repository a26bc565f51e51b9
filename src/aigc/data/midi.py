"""MIDI files in and out, with pretty_midi (MIT): notes by instrument with tick-exact times, drum
tracks flagged, text meta events written — all a piano-roll converter needs, on top of mido.

Reading quantises note starts and ends on the tick grid (``resolution`` ticks per beat), so the
result does not depend on the file's tempo map. A malformed, truncated, empty or note-less file
raises :class:`~aigc.core.errors.BadInputError` naming the file, or is skipped and counted by
:func:`read_midi_folder` with ``skip_bad=True``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from aigc.core.errors import BadInputError
from aigc.data.music import KEYS, LOWEST, note_spans

__all__ = ["MIDI_SUFFIXES", "read_midi", "read_midi_folder", "read_midi_tracks", "roll_to_midi",
           "midi_bytes"]

MIDI_SUFFIXES = (".mid", ".midi")
VOICE_NAMES = ("Soprano", "Alto", "Tenor", "Bass")


def _parse(path: Path) -> Any:
    import pretty_midi

    if not path.is_file():
        raise BadInputError(f"MIDI file {str(path)!r} not found")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: empty file; give a standard MIDI file (.mid)")
    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # mido/pretty_midi raise many types on corrupt input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(f"{path}: not a readable MIDI file ({reason}); "
                            f"check the file or pass --skip-bad to skip it") from exc


def read_midi(path: str | os.PathLike, steps_per_beat: int = 4) -> np.ndarray:
    """A MIDI file -> ``(T, 88)`` bool roll with ``steps_per_beat`` steps per quarter note.

    All non-drum instruments are merged; notes outside the piano's 88 keys are dropped. A note
    shorter than one step keeps one step so that short notes are not lost.
    """
    path = Path(path)
    pm = _parse(path)
    notes = [(n.start, n.end, n.pitch) for inst in pm.instruments if not inst.is_drum
             for n in inst.notes if LOWEST <= n.pitch < LOWEST + KEYS]
    if not notes:
        raise BadInputError(f"{path}: no pitched notes on the piano's range; "
                            f"give a MIDI file with notes or pass --skip-bad to skip it")
    scale = steps_per_beat / pm.resolution
    spans = []
    for start, end, pitch in notes:
        a = int(round(pm.time_to_tick(start) * scale))
        b = int(round(pm.time_to_tick(end) * scale))
        spans.append((a, max(b, a + 1), pitch))
    roll = np.zeros((max(b for _, b, _ in spans), KEYS), dtype=bool)
    for a, b, pitch in spans:
        roll[a:b, pitch - LOWEST] = True
    return roll


def read_midi_tracks(path: str | os.PathLike, steps_per_beat: int = 4) -> dict[str, np.ndarray]:
    """Each non-drum instrument of a MIDI file as its own ``(T, 88)`` roll, by track name (all the
    same length)."""
    path = Path(path)
    pm = _parse(path)
    scale = steps_per_beat / pm.resolution
    spans: dict[str, list] = {}
    for i, inst in enumerate(pm.instruments):
        if not inst.is_drum:
            name = inst.name or f"track {i}"
            spans[name] = [(int(round(pm.time_to_tick(n.start) * scale)), int(round(pm.time_to_tick(n.end) * scale)),
                            n.pitch) for n in inst.notes if LOWEST <= n.pitch < LOWEST + KEYS]
    length = max((max(b, a + 1) for s in spans.values() for a, b, _ in s), default=0)
    out = {}
    for name, s in spans.items():
        roll = np.zeros((length, KEYS), dtype=bool)
        for a, b, p in s:
            roll[a:max(b, a + 1), p - LOWEST] = True
        out[name] = roll
    return out


def read_midi_folder(folder: str | os.PathLike, steps_per_beat: int = 4, *,
                     skip_bad: bool = False) -> tuple[list[np.ndarray], list[str]]:
    """Every ``*.mid``/``*.midi`` under ``folder`` (sorted) -> (rolls, paths of skipped files)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"--data folder:{folder}: no such folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not files:
        raise BadInputError(f"{folder}: no .mid or .midi files found")
    rolls: list[np.ndarray] = []
    skipped: list[str] = []
    for f in files:
        try:
            rolls.append(read_midi(f, steps_per_beat))
        except BadInputError:
            if not skip_bad:
                raise
            skipped.append(str(f))
    if not rolls:
        raise BadInputError(f"{folder}: all {len(skipped)} MIDI files were unreadable")
    return rolls, skipped


def roll_to_midi(roll: np.ndarray, *, steps_per_beat: int = 4, tempo: float = 100.0,
                 program: int = 0, velocity: int = 80, voices: np.ndarray | None = None) -> Any:
    """``(T, 88)`` roll -> ``pretty_midi.PrettyMIDI``; a key sounding on consecutive steps is one
    held note. With ``voices`` ``(T, V)`` pitches (-1 = rest) each voice becomes its own track
    (Soprano, Alto, Tenor, Bass) instead. (``aigc.core.artifacts.save_midi`` adds the recipe.)"""
    import pretty_midi

    if not 20 <= tempo <= 400:
        raise BadInputError(f"--tempo {tempo}: choose a tempo between 20 and 400 beats per minute")
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=float(tempo))
    step_s = 60.0 / (tempo * steps_per_beat)
    if voices is None:
        tracks = [("aigc", np.asarray(roll, dtype=bool))]
    else:
        from aigc.data.music import voices_to_roll

        voices = np.asarray(voices)
        names = VOICE_NAMES if voices.shape[1] == len(VOICE_NAMES) else [f"voice {i}" for i in range(voices.shape[1])]
        tracks = [(names[i], voices_to_roll(voices[:, i:i + 1])) for i in range(voices.shape[1])]
    for name, part in tracks:
        inst = pretty_midi.Instrument(program=program, name=name)
        inst.notes.extend(_notes(part, step_s, velocity))
        pm.instruments.append(inst)
    return pm


def _notes(roll: np.ndarray, step_s: float, velocity: int) -> list:
    import pretty_midi

    starts, ends, pitches = note_spans(roll)
    notes = [pretty_midi.Note(velocity=velocity, pitch=int(p), start=a * step_s, end=b * step_s)
             for a, b, p in zip(starts, ends, pitches, strict=True)]
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def midi_bytes(pm: Any) -> bytes:
    """The standard MIDI file bytes of a ``PrettyMIDI`` (deterministic for the same content)."""
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()
