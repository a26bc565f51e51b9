"""Music data: JSB loading, roll <-> events <-> MIDI round trips, voices, transposition, bad MIDI."""

from __future__ import annotations

import json

import numpy as np
import pretty_midi
import pytest

from aigc.core.artifacts import read_recipe, save_midi
from aigc.core.errors import BadInputError
from aigc.data.midi import (
    midi_bytes,
    read_midi,
    read_midi_folder,
    read_midi_tracks,
    roll_to_midi,
)
from aigc.data.music import (
    EventVocab,
    events_to_roll,
    load_jsb,
    load_jsb_voices,
    load_music,
    parse_music_spec,
    pitches_to_roll,
    roll_to_events,
    roll_to_pitches,
    roll_to_voices,
    transpose,
    transpose_range,
    voices_to_roll,
)


def test_jsb_split_sizes_and_json_agreement(jsb):
    from aigc.core.paths import data_dir

    raw = json.loads((data_dir("jsb-chorales") / "jsb-chorales" / "jsb-chorales-quarter.json").read_text())
    for split, n in (("train", 229), ("valid", 76), ("test", 77)):
        rolls = load_jsb("quarter", split)
        assert len(rolls) == n
        # every step holds exactly the JSON's pitches
        assert roll_to_pitches(rolls[5]) == [sorted(set(s)) for s in raw[split][5]]
    assert all(r.shape[1] == 88 and r.dtype == bool for r in load_jsb("16th", "valid"))


def test_events_round_trip_on_every_real_test_piece(jsb):
    vocab = EventVocab(max_shift=8)
    for res, per_bar in (("quarter", 4), ("16th", 16)):
        for roll in load_jsb(res, "test"):
            tokens = roll_to_events(roll, per_bar, vocab)
            assert tokens[0] == vocab.BOS and tokens[-1] == vocab.EOS
            assert max(tokens) < vocab.size
            np.testing.assert_array_equal(events_to_roll(tokens, vocab), roll)


def test_midi_round_trip_on_real_pieces(jsb, tmp_path):
    for res, spb in (("quarter", 1), ("8th", 2)):
        for i, roll in enumerate(load_jsb(res, "valid")[:10]):
            path = tmp_path / f"{res}{i}.mid"
            save_midi(path, roll_to_midi(roll, steps_per_beat=spb, tempo=90), {"seed": i})
            back = read_midi(path, spb)
            last = np.flatnonzero(roll.any(1))[-1] + 1  # MIDI has no trailing silence
            np.testing.assert_array_equal(back, roll[:last])
            assert read_recipe(path)["seed"] == i


def test_coconet_voices_match_their_roll(jsb):
    voices = load_jsb_voices("test", "quarter")
    assert len(voices) == 77 and voices[0].shape[1] == 4
    roll = voices_to_roll(voices[0])
    v = voices[0]
    for t in range(len(v)):
        assert set(np.flatnonzero(roll[t]) + 21) == set(v[t][v[t] >= 0])


def test_roll_to_voices_orders_from_the_top_and_doubles_the_bass():
    roll = pitches_to_roll([[60, 64, 67, 72], [48, 60], [], [50, 53, 57, 62, 65]])
    v = roll_to_voices(roll)
    np.testing.assert_array_equal(v, [[72, 67, 64, 60], [60, 48, 48, 48], [-1] * 4, [65, 62, 57, 53]])


def test_synthetic_midi_reading_merges_tracks_and_drops_drums(tmp_path):
    pm = pretty_midi.PrettyMIDI(resolution=96, initial_tempo=150)
    piano, drums = pretty_midi.Instrument(0), pretty_midi.Instrument(0, is_drum=True)
    beat = 60 / 150
    piano.notes += [pretty_midi.Note(90, 60, 0, beat), pretty_midi.Note(90, 64, beat / 2, 2 * beat),
                    pretty_midi.Note(90, 12, 0, beat),  # below the piano: dropped
                    pretty_midi.Note(90, 72, 2 * beat, 2 * beat + 0.01)]  # shorter than a step: kept
    drums.notes += [pretty_midi.Note(90, 36, 0, 3 * beat)]
    pm.instruments += [piano, drums]
    path = tmp_path / "synth.mid"
    pm.write(str(path))
    roll = read_midi(path, steps_per_beat=2)
    assert roll_to_pitches(roll) == [[60], [60, 64], [64], [64], [72]]
    tracks = read_midi_tracks(path, 2)
    assert list(tracks) == ["track 0"]


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"this is not a midi file at all", "not a readable MIDI"),
    (None, "not a readable MIDI"),  # truncated
    ("noteless", "no pitched notes"),
])
def test_bad_midi_names_the_file(tmp_path, content, words):
    path = tmp_path / "bad.mid"
    if content is None:
        good = midi_bytes(roll_to_midi(pitches_to_roll([[60, 64]] * 8)))
        path.write_bytes(good[: len(good) // 2])
    elif content == "noteless":
        pm = pretty_midi.PrettyMIDI()
        drums = pretty_midi.Instrument(0, is_drum=True)
        drums.notes.append(pretty_midi.Note(100, 38, 0, 1))
        pm.instruments.append(drums)
        pm.write(str(path))
    else:
        path.write_bytes(content)
    with pytest.raises(BadInputError, match=words) as info:
        read_midi(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_folder_skip_bad_counts(midi_folder):
    (midi_folder / "broken.mid").write_bytes(b"MThd garbage")
    with pytest.raises(BadInputError, match="broken.mid"):
        read_midi_folder(midi_folder, 2)
    rolls, skipped = read_midi_folder(midi_folder, 2, skip_bad=True)
    assert len(rolls) == 10 and skipped == [str(midi_folder / "broken.mid")]
    data = load_music(f"folder:{midi_folder}", steps_per_beat=2, skip_bad=True)
    assert len(data.skipped) == 1 and len(data.train) == 9 and len(data.valid) == 1


def test_transpose_matches_numpy_roll_and_refuses_to_fall_off():
    roll = pitches_to_roll([[21, 60], [100]])
    lo, hi = transpose_range(roll)
    assert (lo, hi) == (0, 8)
    np.testing.assert_array_equal(transpose(roll, 5), np.roll(roll, 5, axis=1))
    with pytest.raises(BadInputError, match="off the piano"):
        transpose(roll, -1)


def test_spec_parsing():
    assert parse_music_spec("jsb:8th") == ("jsb", "8th")
    for bad in ("jsb", "jsb:32nd", "midi:x", "folder:"):
        with pytest.raises(BadInputError, match="--data"):
            parse_music_spec(bad)


def test_missing_jsb_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    with pytest.raises(BadInputError, match="jsb-chorales") as info:
        load_jsb("quarter", "test")
    assert str(tmp_path) in str(info.value) and "AIGC_DATA_DIR" in str(info.value)
