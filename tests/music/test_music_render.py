"""The additive synthesiser and the piano-roll picture."""

from __future__ import annotations

import numpy as np

from aigc.data.music import pitches_to_roll
from aigc.music.render import roll_image, synthesize


def test_a440_sounds_at_440_hz_for_its_duration():
    roll = pitches_to_roll([[69]] * 4 + [[]] * 2)  # A4 for 4 beats, then 2 silent beats
    sr = 8000
    wave = synthesize(roll, steps_per_beat=1, tempo=120, sr=sr)  # 0.5 s per beat
    assert len(wave) == int(round((6 * 0.5 + 0.5) * sr)) and np.abs(wave).max() <= 0.8 + 1e-6
    note = wave[: 2 * sr]
    spectrum = np.abs(np.fft.rfft(note * np.hanning(len(note))))
    freqs = np.fft.rfftfreq(len(note), 1 / sr)
    assert abs(freqs[spectrum.argmax()] - 440.0) < 1.0
    # after the note's end plus its 80 ms release, silence
    assert np.abs(wave[int(2.1 * sr):]).max() < 1e-6


def test_roll_image_draws_notes_top_down():
    roll = pitches_to_roll([[60], [64], [67]])
    img = roll_image(roll, cell=2, key_px=1)
    dark = np.all(img == (30, 60, 160), axis=-1)
    rows = [int(np.flatnonzero(dark[:, 2 * t + 1])[0]) for t in range(3)]
    assert rows[0] > rows[1] > rows[2]  # higher pitch, higher in the picture
    assert rows[0] - rows[2] == 7


def test_demo_chorales_are_voiced_triads():
    from aigc.music.demo import ODE_TO_JOY, TRIADS, synthetic_chorales

    for piece in synthetic_chorales(5, seed=1):
        assert piece.shape == (16, 4)
        assert (np.diff(piece, axis=1) < 0).all()  # soprano > alto > tenor > bass
        for row in piece:
            assert any(set(row % 12) <= set(t) for t in TRIADS.values())
        assert set(piece[-2] % 12) <= {0, 4, 7}  # ends on the tonic chord
    assert len(ODE_TO_JOY) == 32 and min(ODE_TO_JOY) >= 60
