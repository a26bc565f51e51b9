"""Symbolic music data: the JSB Chorales, piano-rolls, SATB voices, event tokens, transposition.

One representation, converters in and out (as MusPy does): a **piano-roll** is a ``(T, 88)`` bool
array, row ``t`` holding the keys sounding during time step ``t`` (column 0 = MIDI pitch 21, A0;
column 87 = pitch 108, C8). A note held over several steps and a note re-struck on every step look
the same, as in the JSB Chorales files of Boulanger-Lewandowski et al. (2012), whose
"framewise" likelihood is defined on exactly this array.

Other forms:
- **voices** ``(T, 4)`` int, MIDI pitch of soprano, alto, tenor, bass per step, ``-1`` = silent
  (the Coconet format of ``Jsb16thSeparated.json``, Huang et al. 2017);
- **event tokens** (REMI-like, Huang & Yang 2020): ``BAR``, ``NOTE_OFF(p)``, ``NOTE_ON(p)``,
  ``SHIFT(k)``; :func:`roll_to_events` / :func:`events_to_roll` round-trip exactly.

MIDI files are read and written in :mod:`aigc.data.midi`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aigc.core.errors import BadInputError
from aigc.core.paths import data_dir, missing_dataset

__all__ = [
    "LOWEST", "KEYS", "RESOLUTIONS", "SPLITS", "EventVocab", "MusicData", "note_spans",
    "pitches_to_roll", "roll_to_pitches", "load_jsb", "load_jsb_voices", "voices_to_roll",
    "roll_to_voices", "transpose", "transpose_range", "roll_to_events", "events_to_roll",
    "parse_music_spec", "load_music",
]

LOWEST = 21  # MIDI pitch of the piano's lowest key (A0); the roll's column 0
KEYS = 88
RESOLUTIONS = {"quarter": 1, "8th": 2, "16th": 4}  # steps per beat (quarter note)
SPLITS = ("train", "valid", "test")
JSB_FOLDER = "jsb-chorales"


def pitches_to_roll(steps: list[list[int]], *, source: str = "piece") -> np.ndarray:
    """A list of time steps, each a list of sounding MIDI pitches -> ``(T, 88)`` bool roll."""
    roll = np.zeros((len(steps), KEYS), dtype=bool)
    for t, chord in enumerate(steps):
        for p in chord:
            p = int(p)
            if not LOWEST <= p < LOWEST + KEYS:
                raise BadInputError(f"{source}: pitch {p} at step {t} is outside the piano (21-108)")
            roll[t, p - LOWEST] = True
    return roll


def note_spans(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The notes of a roll as ``(start step, end step (exclusive), MIDI pitch)`` arrays, ordered by
    key then time; a note is a run of consecutive sounding steps of one key."""
    roll = np.asarray(roll, dtype=bool)
    pad = np.zeros((roll.shape[1], 1), dtype=np.int8)
    change = np.diff(np.concatenate([pad, roll.T.astype(np.int8), pad], axis=1), axis=1)
    keys, starts = np.nonzero(change == 1)
    _, ends = np.nonzero(change == -1)  # row-major: pairs with the starts key by key
    return starts, ends, keys + LOWEST


def roll_to_pitches(roll: np.ndarray) -> list[list[int]]:
    """``(T, 88)`` roll -> list of time steps of sorted MIDI pitches (the JSB JSON form)."""
    return [[int(k) + LOWEST for k in np.flatnonzero(row)] for row in np.asarray(roll, dtype=bool)]


def _jsb_file(name: str) -> Path:
    path = data_dir(JSB_FOLDER) / JSB_FOLDER / name
    if not path.is_file():
        raise BadInputError(missing_dataset(JSB_FOLDER, f"the JSB Chorales file {name}"))
    return path


def _read_jsb_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not all(s in data for s in SPLITS):
        raise BadInputError(f"{path}: expected a dict with keys {list(SPLITS)}")
    return data


def load_jsb(resolution: str = "quarter", split: str = "train") -> list[np.ndarray]:
    """The JSB Chorales of one split (train 229 / valid 76 / test 77) as ``(T, 88)`` rolls."""
    if resolution not in RESOLUTIONS:
        raise BadInputError(f"JSB resolution {resolution!r}: choose one of {list(RESOLUTIONS)}")
    if split not in SPLITS:
        raise BadInputError(f"JSB split {split!r}: choose one of {list(SPLITS)}")
    path = _jsb_file(f"jsb-chorales-{resolution}.json")
    pieces = _read_jsb_json(path)[split]
    return [pitches_to_roll(p, source=f"{path.name} {split}[{i}]") for i, p in enumerate(pieces)]


def load_jsb_voices(split: str = "train", resolution: str = "16th") -> list[np.ndarray]:
    """Coconet's four-voice JSB (``Jsb16thSeparated.json``) as ``(T, 4)`` int arrays (S, A, T, B;
    -1 = silent), sub-sampled from 16th notes to ``resolution`` by taking every k-th step."""
    if split not in SPLITS:
        raise BadInputError(f"JSB split {split!r}: choose one of {list(SPLITS)}")
    stride = RESOLUTIONS["16th"] // RESOLUTIONS[resolution]
    pieces = _read_jsb_json(_jsb_file("Jsb16thSeparated.json"))[split]
    return [np.asarray(p, dtype=np.int64).reshape(-1, 4)[::stride] for p in pieces]


def voices_to_roll(voices: np.ndarray) -> np.ndarray:
    """``(T, V)`` voice pitches (-1 = silent) -> ``(T, 88)`` roll (unisons merge into one key)."""
    voices = np.asarray(voices)
    roll = np.zeros((len(voices), KEYS), dtype=bool)
    t, v = np.nonzero(voices >= 0)
    roll[t, voices[t, v] - LOWEST] = True
    return roll


def roll_to_voices(roll: np.ndarray, n_voices: int = 4) -> np.ndarray:
    """``(T, 88)`` roll -> ``(T, n_voices)`` pitches, highest sounding key first (soprano).

    Steps with fewer keys than voices double the lowest key (a unison or an octave-less chord
    in the bass keeps the bass line continuous); empty steps are -1 in every voice.
    """
    roll = np.asarray(roll, dtype=bool)
    out = np.full((len(roll), n_voices), -1, dtype=np.int64)
    for t, row in enumerate(roll):
        keys = np.flatnonzero(row)[::-1] + LOWEST
        if len(keys) == 0:
            continue
        keys = keys[:n_voices]
        out[t, :len(keys)] = keys
        out[t, len(keys):] = keys[-1]
    return out


def transpose_range(roll: np.ndarray) -> tuple[int, int]:
    """The smallest and largest shift (semitones) that keep every note of ``roll`` on the piano."""
    cols = np.flatnonzero(np.asarray(roll).any(axis=0))
    if len(cols) == 0:
        return -(KEYS - 1), KEYS - 1
    return -int(cols[0]), KEYS - 1 - int(cols[-1])


def transpose(roll: np.ndarray, semitones: int) -> np.ndarray:
    """Shift a roll by ``semitones``; raises if a note would leave the 88 keys."""
    lo, hi = transpose_range(roll)
    if not lo <= semitones <= hi:
        raise BadInputError(f"transposing by {semitones} semitones moves notes off the piano "
                            f"(allowed {lo}..{hi})")
    out = np.zeros_like(np.asarray(roll, dtype=bool))
    if semitones >= 0:
        out[:, semitones:] = roll[:, :KEYS - semitones]
    else:
        out[:, :KEYS + semitones] = roll[:, -semitones:]
    return out


@dataclass(frozen=True)
class EventVocab:
    """Token ids: PAD, BOS, EOS, BAR, NOTE_ON x 88, NOTE_OFF x 88, SHIFT(1..max_shift)."""

    max_shift: int = 16
    PAD = 0
    BOS = 1
    EOS = 2
    BAR = 3
    ON = 4
    OFF = 4 + KEYS
    SHIFT = 4 + 2 * KEYS  # SHIFT + k - 1 = advance k steps

    @property
    def size(self) -> int:
        return self.SHIFT + self.max_shift


def roll_to_events(roll: np.ndarray, steps_per_bar: int = 4, vocab: EventVocab = EventVocab()) -> list[int]:
    """``(T, 88)`` roll -> ``[BOS, ..., EOS]``. Per step: ``BAR`` at each bar start, the offs of
    keys that stop, the ons of keys that start (ascending pitch), then shifts to the next step
    where something happens. A key sounding on consecutive steps is one held note."""
    roll = np.asarray(roll, dtype=bool)
    padded = np.concatenate([np.zeros((1, KEYS), bool), roll, np.zeros((1, KEYS), bool)])
    out, pending = [vocab.BOS], 0
    for t in range(len(roll) + 1):
        offs = np.flatnonzero(padded[t] & ~padded[t + 1])
        ons = np.flatnonzero(padded[t + 1] & ~padded[t])
        bar = t < len(roll) and t % steps_per_bar == 0
        if not (bar or len(offs) or len(ons)) and t < len(roll):
            pending += 1
            continue
        while pending:
            k = min(pending, vocab.max_shift)
            out.append(vocab.SHIFT + k - 1)
            pending -= k
        if bar:
            out.append(vocab.BAR)
        out.extend(vocab.OFF + int(k) for k in offs)
        out.extend(vocab.ON + int(k) for k in ons)
        pending = 1
    out.append(vocab.EOS)
    return out


def events_to_roll(tokens: list[int], vocab: EventVocab = EventVocab()) -> np.ndarray:
    """Inverse of :func:`roll_to_events`. Tolerant of sampled sequences: stray offs and repeated
    ons are ignored, tokens after ``EOS`` are dropped, notes still on at the end stop there."""
    active = np.zeros(KEYS, dtype=bool)
    rows: list[np.ndarray] = []
    for tok in tokens:
        tok = int(tok)
        if tok == vocab.EOS:
            break
        if vocab.ON <= tok < vocab.OFF:
            active[tok - vocab.ON] = True
        elif vocab.OFF <= tok < vocab.SHIFT:
            active[tok - vocab.OFF] = False
        elif vocab.SHIFT <= tok < vocab.size:
            rows.extend([active.copy()] * (tok - vocab.SHIFT + 1))
    # the closing step (offs of the last notes) is never followed by a shift
    return np.stack(rows) if rows else np.zeros((0, KEYS), dtype=bool)


@dataclass
class MusicData:
    """Pieces for training/evaluation: rolls, steps per beat and a JSON-safe description."""

    train: list[np.ndarray]
    valid: list[np.ndarray]
    test: list[np.ndarray]
    steps_per_beat: int
    spec: dict
    skipped: list[str] = field(default_factory=list)  # unreadable files left out (skip_bad)


def parse_music_spec(spec: str) -> tuple[str, str]:
    """``jsb:quarter`` / ``jsb:8th`` / ``jsb:16th`` / ``folder:PATH`` -> (kind, value)."""
    kind, sep, value = spec.partition(":")
    if not sep or kind not in ("jsb", "folder") or not value:
        raise BadInputError(f"--data {spec!r}: use jsb:quarter, jsb:8th, jsb:16th or folder:PATH")
    if kind == "jsb" and value not in RESOLUTIONS:
        raise BadInputError(f"--data {spec!r}: JSB resolution must be one of {list(RESOLUTIONS)}")
    return kind, value


def load_music(spec: str, *, steps_per_beat: int = 4, skip_bad: bool = False,
               valid_fraction: float = 0.1) -> MusicData:
    """Load ``spec`` (see :func:`parse_music_spec`). A MIDI folder is split by sorted file name:
    the last ``valid_fraction`` of files is validation and test (the same files)."""
    kind, value = parse_music_spec(spec)
    if kind == "jsb":
        splits = [load_jsb(value, s) for s in SPLITS]
        return MusicData(*splits, steps_per_beat=RESOLUTIONS[value],
                         spec={"data": spec, "pieces": [len(s) for s in splits]})
    from aigc.data.midi import read_midi_folder

    rolls, skipped = read_midi_folder(value, steps_per_beat=steps_per_beat, skip_bad=skip_bad)
    n_valid = max(1, round(len(rolls) * valid_fraction)) if len(rolls) > 1 else 0
    train, valid = rolls[:len(rolls) - n_valid], rolls[len(rolls) - n_valid:]
    return MusicData(train, valid, valid, steps_per_beat=steps_per_beat, skipped=skipped,
                     spec={"data": spec, "pieces": [len(train), len(valid), len(valid)],
                           "skipped": len(skipped), "steps_per_beat": steps_per_beat})
