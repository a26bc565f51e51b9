"""``aigc audio edit``: order of effects, streaming in bounded memory, two-pass effects, recipes,
atomic output, and bad input answered with one line."""

from __future__ import annotations

import argparse
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from aigc.audio import edit
from aigc.audio import effects as fx
from aigc.audio.edit_cli import add_audio
from aigc.cli import main
from aigc.core import registry

SR = 16000


@pytest.fixture(autouse=True)
def _audio_registered(monkeypatch):
    monkeypatch.setitem(registry.TASKS, "audio", "aigc.audio.task:TASK")


def _wave(seconds: float, sr: int = SR, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Noise bursts over a tone, so loudness, trim and denoise all have something to do."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    x = 0.3 * np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * 0.7 * t) > 0) + 0.02 * rng.standard_normal(n)
    x = np.stack([x * (1 - 0.2 * c) for c in range(channels)], axis=1)
    return x if channels > 1 else x[:, 0]


def _write(path, wave, sr=SR, subtype="FLOAT"):
    sf.write(str(path), wave, sr, subtype=subtype)
    return path


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_audio(parser.add_subparsers(dest="command"))
    return parser.parse_args(["audio", "edit", "in.wav", "out.wav", *argv])


def test_cli_keeps_the_order_given_and_reads_minus_values():
    args = _parse(["--highpass", "80", "--gain", "-3", "--normalize", "-16LUFS", "--compress", "-20:4",
                   "--eq", "1000:+3:1.0", "--denoise", "--trim-silence", "--fade", "0.05", "--gain", "+1"])
    chain = [edit.parse_effect(n, t) for n, t in args.chain]
    assert [s.name for s in chain] == ["highpass", "gain", "normalize", "compress", "eq", "denoise",
                                       "trim_silence", "fade", "gain"]
    assert chain[1].params == {"db": -3.0} and chain[-1].params == {"db": 1.0}
    assert chain[2].params == {"target_lufs": -16.0}
    assert chain[3].params == {"threshold_db": -20.0, "ratio": 4.0}
    assert chain[4].params == {"freq": 1000.0, "gain_db": 3.0, "q": 1.0}
    assert chain[5].params == {"method": "wiener"} and chain[6].params == {"threshold_db": -50.0}
    assert edit.parse_effect("compress", "ratio=3,threshold=-30").params == {"ratio": 3.0, "threshold_db": -30.0}


def test_edit_equals_the_effects_applied_in_order(tmp_path):
    x = _wave(1.5, channels=2)
    src = _write(tmp_path / "in.wav", x)
    specs = [("eq", "1000:+3:1.0"), ("gain", "-3"), ("reverb", "0.2:0.3"), ("speed", "1.1"), ("fade", "0.05")]
    chain = [edit.parse_effect(n, t) for n, t in specs]
    report = edit.edit_file(src, tmp_path / "out.wav", chain, block=1000, precision="float64")
    out, sr = sf.read(tmp_path / "out.wav")
    x32 = sf.read(src)[0]  # the float32 file as read back
    ref = fx.fade(fx.speed(fx.reverb(fx.gain(fx.eq(x32, SR, 1000, 3, 1.0), SR, -3), SR, 0.2, 0.3), SR, 1.1), SR, 0.05)
    assert sr == SR and report["passes"] == 1 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=1e-6)  # float32 file
    # the default float32 arithmetic: the same within 1e-5 of full scale (-100 dBFS)
    edit.edit_file(src, tmp_path / "f32.wav", chain, block=1000)
    np.testing.assert_allclose(sf.read(tmp_path / "f32.wav")[0], ref, atol=1e-5)
    reordered = [chain[1], chain[0], *chain[2:]]  # gain and EQ commute; speed and fade do not
    edit.edit_file(src, tmp_path / "b.wav", [chain[0], chain[1], chain[2], chain[4], chain[3]])
    assert not np.allclose(sf.read(tmp_path / "b.wav")[0][: len(out)], out, atol=1e-3)
    edit.edit_file(src, tmp_path / "c.wav", reordered, precision="float64")
    np.testing.assert_allclose(sf.read(tmp_path / "c.wav")[0], out, atol=1e-6)


def test_normalize_lands_on_target_after_a_measuring_pass(tmp_path):
    pyloudnorm = pytest.importorskip("pyloudnorm")
    src = _write(tmp_path / "in.wav", _wave(3.0, seed=1) * 0.2, subtype="PCM_16")
    chain = [edit.parse_effect("highpass", "100"), edit.parse_effect("normalize", "-16LUFS"),
             edit.parse_effect("trim-silence", "-45")]
    report = edit.edit_file(src, tmp_path / "out.wav", chain, block=4096)
    out, _ = sf.read(tmp_path / "out.wav")
    assert report["passes"] == 3
    assert pyloudnorm.Meter(SR).integrated_loudness(out) == pytest.approx(-16.0, abs=0.5)


def _long_file(path, seconds):
    with sf.SoundFile(str(path), "w", SR, 1, "PCM_16") as f:
        for i in range(seconds):
            f.write(_wave(1.0, seed=i) * 0.5)
    return path


def test_long_file_streams_in_blocks_with_bounded_memory(tmp_path):
    chain = [edit.parse_effect(*e) for e in [("highpass", "80"), ("compress", ""), ("pitch", "+2"),
                                             ("normalize", "-18"), ("fade", "0.5")]]
    peaks = {}
    for seconds in (10, 10, 40):  # the first run warms up imports and caches
        src = _long_file(tmp_path / f"in{seconds}.wav", seconds)
        tracemalloc.start()
        report = edit.edit_file(src, tmp_path / "out.wav", chain, block=4096)
        peaks[seconds] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        n = seconds * SR
        assert report["passes"] == 2 and report["blocks"] == 2 * -(-n // 4096)  # read block by block
        assert report["frames_out"] == n == sf.info(str(tmp_path / "out.wav")).frames
    # four times the file, the same memory: well under the 40 s signal held as float64 (5 MB)
    assert peaks[40] < 1.2 * peaks[10] + 65536
    assert peaks[40] < 40 * SR * 8 / 2


def test_same_input_same_bytes_and_the_recipe_is_embedded(tmp_path):
    src = _write(tmp_path / "in.wav", _wave(1.0), subtype="PCM_16")
    argv = ["--denoise", "--pitch", "-1", "--normalize", "-20"]
    assert main(["audio", "edit", str(src), str(tmp_path / "a.wav"), "--quiet", *argv]) == 0
    assert main(["audio", "edit", str(src), str(tmp_path / "b.wav"), "--quiet", *argv]) == 0
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    recipe = edit.read_recipe(tmp_path / "a.wav")
    assert recipe["source"] == "in.wav" and recipe["sample_rate"] == SR and recipe["precision"] == "float32"
    assert [e["effect"] for e in recipe["effects"]] == ["denoise", "pitch", "normalize"]
    assert recipe["effects"][1]["semitones"] == -1.0


@pytest.mark.parametrize("content", [b"", b"RIFF\x10\x00\x00\x00WAVEjunk", b"not audio at all", None])
def test_bad_input_one_line_nonzero_exit_input_untouched(tmp_path, capsys, content):
    src = tmp_path / "bad.wav"
    if content is None:  # a valid WAV with no samples
        sf.write(str(src), np.zeros(0), SR)
    else:
        src.write_bytes(content)
    before = src.read_bytes()
    out = tmp_path / "out.wav"
    assert main(["audio", "edit", str(src), str(out), "--gain", "-3"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.wav" in err[0] and "Traceback" not in err[0]
    assert src.read_bytes() == before and not out.exists()


@pytest.mark.parametrize("argv,needle", [
    (["--eq", "1000"], "--eq"), (["--highpass", "9000"], "9000"), (["--speed", "fast"], "--speed"),
    (["--denoise", "magic"], "--denoise"), ([], "no effect"), (["--gain", "1", "--block", "10"], "--block"),
])
def test_bad_flags_one_line(tmp_path, capsys, argv, needle):
    src = _write(tmp_path / "in.wav", _wave(0.5))
    assert main(["audio", "edit", str(src), str(tmp_path / "o.wav"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "o.wav").exists()


def test_never_over_the_input_unless_asked_and_atomic_on_failure(tmp_path, capsys, monkeypatch):
    src = _write(tmp_path / "in.wav", _wave(0.5), subtype="PCM_16")
    before = src.read_bytes()
    assert main(["audio", "edit", str(src), str(src), "--gain", "-6"]) == 2
    assert "--overwrite-input" in capsys.readouterr().err and src.read_bytes() == before
    # a failure half-way leaves an existing output as it was, and no temporary file behind
    out = tmp_path / "out.wav"
    out.write_bytes(b"old")

    def broken(self, block):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(fx.GainStream, "process", broken)
    with pytest.raises(RuntimeError):
        edit.edit_file(src, out, [edit.parse_effect("gain", "-6")])
    assert out.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]
    monkeypatch.undo()
    monkeypatch.setitem(registry.TASKS, "audio", "aigc.audio.task:TASK")
    old_samples = sf.read(src)[0]
    assert main(["audio", "edit", str(src), str(src), "--gain", "-6", "--overwrite-input", "--quiet"]) == 0
    np.testing.assert_allclose(sf.read(src)[0], old_samples * 10 ** (-6 / 20), atol=1 / 32768)


def test_help_teaches_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["audio", "edit", "--help"])
    text = capsys.readouterr().out
    assert "aigc audio edit" in text and "--normalize" in text and "order" in text


def test_the_recipe_reads_back_through_core_artifacts(tmp_path):
    artifacts = pytest.importorskip("aigc.core.artifacts")
    if not hasattr(artifacts, "read_recipe"):
        pytest.skip("aigc.core.artifacts.read_recipe not in this checkout")
    src = _write(tmp_path / "in.wav", _wave(0.5), subtype="PCM_16")
    edit.edit_file(src, tmp_path / "out.wav", [edit.parse_effect("gain", "-2")])
    recipe = artifacts.read_recipe(tmp_path / "out.wav")
    assert recipe["effects"] == [{"effect": "gain", "db": -2.0}] and "aigc_version" in recipe


def test_neighbouring_filters_run_as_one_cascade_equal_to_the_effects_in_turn():
    x = _wave(0.5, channels=2)
    specs = [("gain", "-3"), ("highpass", "80"), ("eq", "1000:+3:1.0"), ("lowpass", "6000"), ("gain", "+1")]
    streams = edit.build_chain([edit.parse_effect(*s) for s in specs], SR, 2, dtype=np.float64)
    assert len(streams) == 1 and isinstance(streams[0], fx.SosStream) and len(streams[0].sos) == 5
    ref = fx.gain(fx.lowpass(fx.eq(fx.highpass(fx.gain(x, SR, -3), SR, 80), SR, 1000, 3, 1.0), SR, 6000), SR, 1)
    np.testing.assert_allclose(fx.run_stream(streams[0], x), ref, atol=1e-12)


def test_neighbouring_pitch_and_speed_run_as_one_stretch_with_both_effects():
    x = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    chain = [edit.parse_effect("pitch", "+12"), edit.parse_effect("speed", "1.25")]
    streams = edit.build_chain(chain, SR, 1, dtype=np.float64)
    assert len(streams) == 1 and isinstance(streams[0], fx.PitchTempoStream)
    y = fx.run_stream(streams[0], x)
    assert len(y) == round(SR / 1.25) == len(fx.speed(fx.pitch_shift(x, SR, 12), SR, 1.25))
    spec = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(len(y) - 2000)))
    assert np.argmax(spec) * SR / (len(y) - 2000) == pytest.approx(880, rel=0.01)
    # a measuring effect in between keeps them apart
    apart = edit.build_chain([chain[0], edit.parse_effect("normalize", "-16"), chain[1]], SR, 1,
                             measured={1: -20.0})
    assert [type(s).__name__ for s in apart] == ["PitchTempoStream", "GainStream", "PitchTempoStream"]
