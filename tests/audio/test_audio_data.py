"""Audio I/O and datasets: soundfile round trips, scipy polyphase resampling, FSDD's official split,
folders with sub-folder labels, and one clear error (or a counted skip) per bad file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from aigc.core.errors import BadInputError
from aigc.data.audio import (
    center_clip,
    fix_length,
    load_audio_folder,
    load_fsdd,
    read_audio,
    resample,
    write_audio,
)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_write_read_round_trip(tmp_path, tone, suffix):
    wave = tone(440, 0.25)
    path = write_audio(tmp_path / f"a{suffix}", wave, 8000)
    back, sr = read_audio(path)
    assert sr == 8000 and back.dtype == np.float32 and len(back) == len(wave)
    tol = 1e-3 if suffix != ".ogg" else 0.1  # PCM-16 quantisation; Vorbis is lossy
    assert np.sqrt(np.mean((back - wave) ** 2)) < tol


def test_stereo_is_mixed_to_mono(tmp_path, tone):
    left, right = tone(440, 0.1), tone(880, 0.1)
    sf.write(tmp_path / "s.wav", np.stack([left, right], 1), 8000, subtype="FLOAT")
    back, _ = read_audio(tmp_path / "s.wav")
    np.testing.assert_allclose(back, (left + right) / 2, atol=1e-6)


def test_resample_is_scipy_polyphase_and_keeps_the_pitch(tone):
    wave = tone(440, 0.5, sr=16000)
    out = resample(wave, 16000, 8000)
    np.testing.assert_allclose(out, resample_poly(wave.astype(np.float64), 1, 2), atol=1e-6)
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * 8000 / len(out) - 440) < 3
    assert len(resample(tone(300, 1.0, sr=44100), 44100, 8000)) == 8000


def test_read_resamples_or_refuses_other_rates(tmp_path, tone):
    write_audio(tmp_path / "a.wav", tone(300, 0.5, sr=16000), 16000)
    wave, sr = read_audio(tmp_path / "a.wav", 8000)
    assert sr == 8000 and len(wave) == 4000
    with pytest.raises(BadInputError, match=r"a\.wav: sample rate 16000 Hz, expected 8000"):
        read_audio(tmp_path / "a.wav", 8000, resample_ok=False)


def test_bad_files_name_themselves(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really a wave file at all" * 4)
    sf.write(tmp_path / "zero.wav", np.zeros((0,), np.float32), 8000)
    for name, why in (("empty.wav", "empty"), ("junk.wav", "not a readable audio"), ("zero.wav", "zero-length"),
                      ("missing.wav", "not found")):
        with pytest.raises(BadInputError, match=why) as info:
            read_audio(tmp_path / name)
        assert name in str(info.value) and "\n" not in str(info.value)


def test_folder_labels_from_subfolders_and_skip_bad(tone_folder):
    data = load_audio_folder(tone_folder, sr=8000)
    assert len(data) == 16 and data.class_names == ["0", "1"]
    assert data.labels.tolist() == [0] * 8 + [1] * 8
    (tone_folder / "1" / "broken.wav").write_bytes(b"\x00" * 100)
    with pytest.raises(BadInputError, match=r"broken\.wav.*--skip-bad"):
        load_audio_folder(tone_folder, sr=8000)
    data = load_audio_folder(tone_folder, sr=8000, skip_bad=True)
    assert len(data) == 16 and len(data.skipped) == 1 and data.spec()["skipped"] == 1


def test_fix_length_and_center_clip():
    wave = np.arange(1, 11, dtype=np.float32)
    assert fix_length(wave, 4).tolist() == [1, 2, 3, 4]
    assert fix_length(wave, 12)[-2:].tolist() == [0, 0]
    assert center_clip(wave, 4).tolist() == [4, 5, 6, 7]
    assert center_clip(wave[:2], 6).tolist() == [0, 0, 1, 2, 0, 0]


def test_fsdd_official_split(fsdd):
    test = load_fsdd("test", root=fsdd)
    assert len(test) == 300 and test.sr == 8000
    assert all(int(name.split("_")[2].split(".")[0]) < 5 for name in test.files)
    assert np.bincount(test.labels.numpy()).tolist() == [30] * 10
    assert np.bincount(test.speakers.numpy()).tolist() == [50] * 6
    assert test.speaker_names[4] == "theo"
    first = test.files.index("3_theo_2.wav")
    assert test.labels[first] == 3 and test.speaker_names[int(test.speakers[first])] == "theo"
    train_files = sorted(p.name for p in fsdd.glob("*.wav") if int(p.stem.split("_")[2]) >= 5)
    assert len(train_files) == 2700
