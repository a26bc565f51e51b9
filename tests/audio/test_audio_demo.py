"""The demo's data: FSDD when present, else synthetic vowel-like "digits" (no network needed)."""

from __future__ import annotations

import numpy as np

from aigc.audio.demo import _demo_data, synthetic_digits


def test_synthetic_digits_have_their_formants():
    data = synthetic_digits(per_class=2, seed=0)
    assert len(data) == 20 and data.sr == 8000 and data.labels.tolist() == [d for d in range(10) for _ in range(2)]
    assert data.speakers.tolist() == [0, 1] * 10 and all(np.abs(w).max() <= 0.5 + 1e-6 for w in data.waves)
    for wave, digit in zip(data.waves[::2], range(10)):
        spectrum = np.abs(np.fft.rfft(wave))
        freqs = np.fft.rfftfreq(len(wave), 1 / 8000)
        low = (freqs > 200) & (freqs < 1200)  # above the pitch, the first formant dominates
        peak = freqs[low][np.argmax(spectrum[low])]
        first = (300, 400, 530, 660, 730, 570, 440, 300, 490, 350)[digit]
        assert abs(peak - first) < 150


def test_demo_falls_back_to_synthetic_data(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    assert _demo_data(0).source == "synthetic-digits"
