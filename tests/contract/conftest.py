"""Helpers for the task-contract tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """Four small grey photos cut from scikit-image's camera (a real image, shipped with it)."""
    from skimage import data

    folder = tmp_path_factory.mktemp("images")
    cam = data.camera()
    for i in range(4):
        Image.fromarray(np.ascontiguousarray(cam[i * 96:i * 96 + 48, 100:148])).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="session")
def midi_folder(tmp_path_factory) -> Path:
    """Eight short four-part pieces (I-IV-V-I in C, one chord per beat) as MIDI files."""
    import pretty_midi

    folder = tmp_path_factory.mktemp("midis")
    chords = [(60, 64, 67, 48), (60, 65, 69, 53), (59, 62, 67, 55), (60, 64, 67, 48)]
    for i in range(8):
        pm = pretty_midi.PrettyMIDI(initial_tempo=120)
        inst = pretty_midi.Instrument(program=0)
        for beat, chord in enumerate(chords * 2):
            for pitch in chord:
                inst.notes.append(pretty_midi.Note(velocity=80, pitch=pitch + i, start=beat * 0.5,
                                                   end=beat * 0.5 + 0.5))
        pm.instruments.append(inst)
        pm.write(str(folder / f"piece{i}.mid"))
    return folder


@pytest.fixture(scope="session")
def wav_folder(tmp_path_factory) -> Path:
    """Tones at two pitches in sub-folders 0 and 1, 8 kHz mono 16-bit WAV, as a labelled folder."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("wavs")
    t = np.arange(2400) / 8000
    for label, base in (("0", 300.0), ("1", 1500.0)):
        (folder / label).mkdir()
        for i in range(8):
            wave = (0.3 + 0.05 * i) * np.sin(2 * np.pi * base * (1 + 0.05 * i) * t)
            sf.write(folder / label / f"clip{i}.wav", np.pad(wave, (400, 400)), 8000, subtype="PCM_16")
    return folder


@pytest.fixture(scope="session")
def ratings_csv(tmp_path_factory) -> Path:
    """user,item,rating rows with a planted rank-2 taste structure (20 users, 15 items)."""
    rng = np.random.default_rng(0)
    users, items = rng.normal(size=(20, 2)), rng.normal(size=(15, 2))
    path = tmp_path_factory.mktemp("ratings") / "ratings.csv"
    rows = ["user,item,rating"]
    for u in range(20):
        for i in rng.choice(15, size=8, replace=False):
            rows.append(f"{u + 1},{i + 1},{int(np.clip(np.round(3 + users[u] @ items[i]), 1, 5))}")
    path.write_text("\n".join(rows) + "\n")
    return path
