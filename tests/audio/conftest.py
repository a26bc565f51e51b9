"""Audio test fixtures: the task registered (until the lead's registry line lands), tiny tone data."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.core.paths import data_dir

SR = 8000


@pytest.fixture(autouse=True)
def _audio_task_registered(monkeypatch):
    from aigc.core import registry

    monkeypatch.setitem(registry.TASKS, "audio", "aigc.audio.task:TASK")


def _tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def tone():
    """``tone(freq, seconds, sr=8000, amp=0.5)`` -> a float32 sine."""
    return _tone


@pytest.fixture
def fsdd():
    """The FSDD recordings folder; the test skips when it is absent."""
    folder = data_dir("fsdd") / "fsdd" / "recordings"
    if not folder.is_dir():
        pytest.skip("FSDD not found under AIGC_DATA_DIR (fsdd/recordings/*.wav)")
    return folder


@pytest.fixture
def tone_folder(tmp_path):
    """Two 'digit' classes as sub-folders: low tones ("0") and high tones ("1"), 8 clips each."""
    from aigc.data.audio import write_audio

    root = tmp_path / "tones"
    rng = np.random.default_rng(0)
    for label, base in (("0", 300.0), ("1", 1500.0)):
        for i in range(8):
            wave = _tone(base * (1 + 0.05 * i), 0.3, amp=0.3 + 0.05 * i)
            wave = wave + 0.01 * rng.standard_normal(len(wave)).astype(np.float32)
            write_audio(root / label / f"clip{i}.wav", np.pad(wave, (400, 400)), SR)
    return root
