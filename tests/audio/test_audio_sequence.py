"""Splitting recordings on silence (librosa.effects.split's rule) and joining clips with pauses
and cross-fades."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.audio.sequence import (
    join_clips,
    nonsilent_intervals,
    parse_digits,
    split_on_silence,
    trim_silence,
)
from aigc.core.errors import BadInputError


def _bursts(tone, gaps=(0.3, 0.05)):
    parts = [np.zeros(1600, np.float32)]
    for gap in gaps:
        parts += [tone(500, 0.25), np.zeros(int(gap * 8000), np.float32)]
    parts.append(tone(800, 0.2))
    parts.append(np.zeros(1600, np.float32))
    return np.concatenate(parts)


def test_nonsilent_intervals_match_librosa(tone):
    librosa = pytest.importorskip("librosa")
    wave = _bursts(tone)
    ref = librosa.effects.split(wave, top_db=30, frame_length=512, hop_length=128)
    np.testing.assert_array_equal(nonsilent_intervals(wave, top_db=30, frame=512, hop=128), ref)


def test_split_merges_short_gaps_and_keeps_long_ones(tone):
    wave = _bursts(tone, gaps=(0.3, 0.1))
    spans = split_on_silence(wave, 8000, min_gap_s=0.12)
    assert len(spans) == 2  # the 100 ms gap is inside a word, the 300 ms one separates words
    assert spans[0][0] <= 1600 <= spans[0][1] and spans[1][1] >= len(wave) - 1600 - 128
    assert len(split_on_silence(wave, 8000, min_gap_s=0.01)) == 3
    assert split_on_silence(np.zeros(4000, np.float32), 8000) == []  # digital silence holds no digit
    with pytest.raises(BadInputError):
        split_on_silence(np.zeros(0, np.float32), 8000)


def test_trim_silence(tone):
    wave = np.concatenate([np.zeros(800, np.float32), tone(440, 0.2), np.zeros(800, np.float32)])
    trimmed = trim_silence(wave, 8000, pad_s=0.0)
    assert abs(len(trimmed) - 1600) <= 512


def test_join_clips_lengths_and_crossfade():
    sr = 1000
    a, b = np.ones(100, np.float32), np.ones(100, np.float32)
    out = join_clips([a, b], sr, pauses_s=0.05, crossfade_s=0.01)
    assert len(out) == 100 + 50 - 10 + 100
    assert out[0] < 0.1 and out[50] == 1.0 and out[-1] < 0.1  # faded edges, untouched middles
    np.testing.assert_allclose(out[100:130], 0.0)  # the pause is silent
    merged = join_clips([a, b], sr, pauses_s=0.0, crossfade_s=0.02)
    assert len(merged) == 180
    np.testing.assert_allclose(merged[80:100], 1.0, atol=1e-6)  # raised-cosine fades sum to one
    with pytest.raises(BadInputError):
        join_clips([a, b], sr, pauses_s=[0.1, 0.2])


def test_parse_digits():
    assert parse_digits("4 1 5 2") == [[4, 1, 5, 2]]
    assert parse_digits("555-0134") == [[5, 5, 5], [0, 1, 3, 4]]
    assert parse_digits("(0) 12, 3") == [[0, 1, 2], [3]]
    for bad in ("", "call me", "4a"):
        with pytest.raises(BadInputError):
            parse_digits(bad)


def test_centered_clips_trim_then_centre(tone):
    from aigc.audio.sequence import centered_clips

    early = np.concatenate([tone(440, 0.1), np.zeros(8000, np.float32)])  # speech at the start of 1.1 s
    late = np.concatenate([np.zeros(3000, np.float32), tone(440, 0.1)])
    clips = centered_clips([early, late], 8000, 2000)
    assert clips.shape == (2, 2000)
    for clip in clips:
        loud = np.flatnonzero(np.abs(clip) > 0.05)
        # the sound sits in the middle, up to the 64 ms frames of the silence detector (uncentred: 600)
        assert abs((loud[0] + loud[-1]) / 2 - 1000) < 300
