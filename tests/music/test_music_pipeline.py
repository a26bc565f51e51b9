"""Training, loading, generation, harmonisation, outputs and the command line, on tiny models
trained for a few steps on synthetic chorales written as MIDI files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import aigc
from aigc.cli import main
from aigc.core.artifacts import read_recipe
from aigc.data.midi import midi_bytes, read_midi, read_midi_tracks, roll_to_midi
from aigc.data.music import roll_to_voices, voices_to_roll
from aigc.music.train import MusicSettings, train
from aigc.train.config import TrainConfig

TINY = {"frame": {"hidden": 24, "layers": 1, "nade_hidden": 16},
        "transformer": {"layers": 1, "heads": 2, "embed": 32, "context": 64},
        "infill": {"channels": 16, "blocks": 1, "context": 8}}


@pytest.fixture(scope="module")
def models(tmp_path_factory, make_voices):
    from aigc.core import registry

    root = tmp_path_factory.mktemp("music")
    folder = root / "chorales"
    folder.mkdir()
    for i in range(10):
        v = make_voices(i)
        (folder / f"p{i}.mid").write_bytes(midi_bytes(roll_to_midi(voices_to_roll(v), steps_per_beat=2)))
    saved = dict(registry.TASKS)
    registry.TASKS.setdefault("music", "aigc.music.task:TASK")
    out = {}
    try:
        for arch, sizes in TINY.items():
            settings = MusicSettings(arch=arch, data=f"folder:{folder}", steps_per_beat=2, **sizes)
            config = TrainConfig(steps=12, batch_size=4, lr=3e-3, progress=False, checkpoint_every=100)
            summary = train(settings, config, root / arch)
            out[arch] = (root / arch, summary)
        out["folder"] = (folder, {})
    finally:
        registry.TASKS.clear()
        registry.TASKS.update(saved)
    return out


def test_training_summary_and_config(models):
    for arch in TINY:
        path, summary = models[arch]
        assert summary["step"] == 12
        if arch != "infill":
            assert 0 < summary["val_loss"] < 200
        pipe = aigc.load(str(path), device="cpu")
        assert pipe.task == "music" and pipe.architecture == arch
        assert pipe.steps_per_beat == 2 and pipe.steps_per_bar == 8


@pytest.mark.parametrize("arch", ["frame", "transformer", "infill"])
def test_same_seed_same_midi_bytes(models, tmp_path, arch):
    pipe = aigc.load(str(models[arch][0]), device="cpu")
    paths = []
    for i, seed in enumerate((3, 3, 4)):
        roll = pipe.generate(bars=2, seed=seed, temperature=1.0, iterations=4)
        assert roll.shape[1] == 88 and len(roll) <= 16
        paths.append(pipe.save(roll, tmp_path / f"{i}.mid", seed=seed, png=False, wav=False)["midi"])
    a, b, c = (p.read_bytes() for p in paths)
    assert a == b and a != c


def test_continuation_keeps_the_prompt(models, tmp_path, make_voices):
    prompt = voices_to_roll(make_voices(42, 8))
    for arch in ("frame", "transformer", "infill"):
        pipe = aigc.load(str(models[arch][0]), device="cpu")
        out = pipe.generate(bars=1, seed=0, prompt=prompt, iterations=3)
        if arch == "infill":  # four voices: unisons collapse into one key, as in the prompt's voices
            np.testing.assert_array_equal(out[:8], voices_to_roll(roll_to_voices(prompt)))
        else:
            np.testing.assert_array_equal(out[:8], prompt)
        assert len(out) <= 16


@pytest.mark.parametrize("arch", ["infill", "frame"])
def test_harmonize_cli_keeps_the_soprano_exactly(models, tmp_path, make_voices, arch, monkeypatch):
    monkeypatch.setattr("aigc.music.render.fluidsynth", lambda: None)  # the built-in synthesiser
    melody = make_voices(7, 16)[:, :1].copy()
    melody[5] = -1  # a rest in the tune
    mel_path = tmp_path / "melody.mid"
    mel_path.write_bytes(midi_bytes(roll_to_midi(voices_to_roll(melody), steps_per_beat=2)))
    out = tmp_path / "chorale.mid"
    code = main(["harmonize", str(models[arch][0]), str(mel_path), "--out", str(out), "--seed", "1",
                 "--iterations", "4"])
    assert code == 0
    tracks = read_midi_tracks(out, 2)
    assert list(tracks) == ["Soprano", "Alto", "Tenor", "Bass"]
    soprano = roll_to_voices(tracks["Soprano"], 1)[:, 0]
    np.testing.assert_array_equal(soprano, melody[:len(soprano), 0])
    assert (melody[len(soprano):, 0] == -1).all()  # MIDI ends at the last note
    full = read_midi(out, 2)
    top = roll_to_voices(full, 1)[:, 0]
    sounding = melody[:len(top), 0] >= 0
    np.testing.assert_array_equal(top[sounding], melody[:len(top), 0][sounding])  # nothing above it
    assert not full[5].any()  # the choir rests with the tune
    recipe = read_recipe(out)
    assert recipe["seed"] == 1 and recipe["task"] == "music" and recipe["melody"] == str(mel_path)
    assert read_recipe(out.with_suffix(".png"))["seed"] == 1
    wave, sr = sf.read(str(out.with_suffix(".wav")))
    assert sr == 22050 and np.abs(wave).max() > 0.1
    assert read_recipe(out.with_suffix(".wav"))["renderer"] == "additive"
    assert len(wave) / sr == pytest.approx(len(full) * 60 / (80 * 2) + 0.5, abs=0.05)


def test_transformer_refuses_to_harmonize(models, make_voices):
    pipe = aigc.load(str(models["transformer"][0]), device="cpu")
    with pytest.raises(aigc.core.errors.BadInputError, match="cannot harmonise"):
        pipe.harmonize(make_voices(1, 8)[:, 0])


def test_bad_midi_gives_one_line_and_nonzero_exit(models, tmp_path, capsys):
    bad = tmp_path / "melody.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    code = main(["harmonize", str(models["infill"][0]), str(bad), "--out", str(tmp_path / "x.mid")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and str(bad) in err
    code = main(["generate", str(models["frame"][0]), "--prompt", str(tmp_path / "missing.mid"),
                 "--out", str(tmp_path / "y.mid")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "missing.mid" in err


def test_generate_and_eval_cli(models, tmp_path, capsys):
    out = tmp_path / "gen.mid"
    assert main(["generate", str(models["transformer"][0]), "--bars", "2", "--top-p", "0.9", "--out", str(out)]) == 0
    assert out.is_file() and out.with_suffix(".png").is_file() and out.with_suffix(".wav").is_file()
    assert read_recipe(out)["top_p"] == 0.9


def test_eval_cli_scores_nll_and_descriptors(models, tmp_path, capsys):
    import json

    folder = models["folder"][0]
    report = tmp_path / "eval.json"
    code = main(["eval", "music", "--model", str(models["frame"][0]), "--data", f"folder:{folder}",
                 "--generate", "2", "--bars", "1", "--json", str(report)])
    assert code == 0, capsys.readouterr().err
    result = json.loads(report.read_text())
    assert result["pieces"] == 1 and 0 < result["nll"] < 200 and 0 <= result["note_accuracy"] <= 1
    assert set(result["descriptors"]["polyphony"]) == {"generated", "reference", "wasserstein"}
    # the same NLL as the training summary's validation figure (same pieces, same model)
    assert result["nll"] == pytest.approx(models["frame"][1]["val_loss"], rel=1e-5)


def test_train_cli_skip_bad_and_resume(models, tmp_path, capsys):
    import shutil

    folder = tmp_path / "midi"
    shutil.copytree(models["folder"][0], folder)
    (folder / "zz_broken.mid").write_bytes(b"not midi")
    out = tmp_path / "run"
    flags = ["train", "music", "--arch", "frame", "--data", f"folder:{folder}", "--steps-per-beat", "2",
             "--hidden", "16", "--layers", "1", "--nade-hidden", "8", "--batch-size", "4", "--out", str(out)]
    assert main([*flags, "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "zz_broken.mid" in err and "--skip-bad" in err
    assert main([*flags, "--steps", "2", "--skip-bad"]) == 0
    assert "skipped 1 unreadable MIDI file(s)" in capsys.readouterr().out
    assert main(["train", "music", "--out", str(out), "--resume", "--steps", "4"]) == 0
    assert "to step 4" in capsys.readouterr().out
    assert aigc.core.modeldir.read_config(out)["settings"]["hidden"] == 16


def test_flags_of_another_architecture_are_refused():
    from aigc.core.errors import BadInputError

    with pytest.raises(BadInputError, match="--rnn do"):
        MusicSettings(arch="transformer", rnn="gru").model_config()
    assert MusicSettings(arch="frame", context=64, hidden=8).model_config().hidden == 8
    with pytest.raises(BadInputError, match="--arch"):
        MusicSettings(arch="gan")
