"""Music test fixtures: the task registered, JSB availability, synthetic chorales as MIDI files."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.core.paths import data_dir


@pytest.fixture(autouse=True)
def _music_registered(monkeypatch):
    # until the registry line lands, the tests register the task themselves
    from aigc.core import registry

    monkeypatch.setitem(registry.TASKS, "music", "aigc.music.task:TASK")


@pytest.fixture
def jsb():
    """Skips the test when the JSB Chorales are not in AIGC_DATA_DIR."""
    if not (data_dir("jsb-chorales") / "jsb-chorales" / "Jsb16thSeparated.json").is_file():
        pytest.skip("JSB Chorales not in AIGC_DATA_DIR/jsb-chorales (see the data README)")


def synthetic_voices(seed: int, steps: int = 32) -> np.ndarray:
    """(steps, 4) SATB pitches moving by small steps in C major around chorale registers."""
    rng = np.random.default_rng(seed)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    centres = [72, 65, 58, 50]
    out = np.zeros((steps, 4), dtype=np.int64)
    for v, c in enumerate(centres):
        degree = 0
        for t in range(steps):
            if t % 2 == 0:
                degree = int(np.clip(degree + rng.integers(-1, 2), -3, 3))
            octave, d = divmod(degree + 7 * 10, 7)
            out[t, v] = c - c % 12 + scale[d] + 12 * (octave - 10)
    return out


@pytest.fixture(scope="session")
def make_voices():
    return synthetic_voices


@pytest.fixture
def midi_folder(tmp_path):
    """A folder of 10 synthetic four-voice chorales as MIDI files (one track per voice)."""
    from aigc.data.midi import midi_bytes, roll_to_midi
    from aigc.data.music import voices_to_roll

    folder = tmp_path / "chorales"
    folder.mkdir()
    for i in range(10):
        v = synthetic_voices(i)
        pm = roll_to_midi(voices_to_roll(v), steps_per_beat=2, voices=v)
        (folder / f"piece{i:02d}.mid").write_bytes(midi_bytes(pm))
    return folder
