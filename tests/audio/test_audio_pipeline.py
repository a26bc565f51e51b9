"""End to end on tiny tone data: train() for both architectures, the Pipeline (listen, generate,
speak), WAVs with their recipe and the same bytes for the same seed, and the CLI commands with
their one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from helpers import write_tones

import aigc
from aigc.audio.train import AudioSettings, train
from aigc.cli import main
from aigc.core.artifacts import read_recipe
from aigc.core.errors import BadInputError
from aigc.train import TrainConfig


def _config(steps, lr=3e-3):
    return TrainConfig(steps=steps, batch_size=8, lr=lr, progress=False, checkpoint_every=1000, log_every=5)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from aigc.core import registry

    with pytest.MonkeyPatch.context() as mp:  # module-scoped twin of the conftest's registration
        mp.setitem(registry.TASKS, "audio", "aigc.audio.task:TASK")
        root = tmp_path_factory.mktemp("audio-models")
        folder = root / "tones"
        write_tones(folder)
        common = {"data": f"folder:{folder}", "clip_seconds": 0.25}
        rec = root / "rec"
        train(AudioSettings(arch="recognizer", channels=4, **common), _config(100), rec)
        syn = root / "syn"
        train(AudioSettings(arch="mel-diffusion", channels=8, n_mels=16, model={"mult": [1, 2], "blocks": 1},
                            **common), _config(4), syn)
        yield {"folder": folder, "rec": rec, "syn": syn}


def test_recognizer_model_dir_and_listen(models, tone):
    pipe = aigc.load(models["rec"], device="cpu")
    assert pipe.task == "audio" and pipe.architecture == "recognizer"
    cfg = json.loads((models["rec"] / "config.json").read_text())
    assert cfg["settings"]["arch"] == "recognizer" and cfg["model"]["clip_samples"] == 1920
    gap = np.zeros(2400, np.float32)
    phone = np.concatenate([gap, tone(310, 0.3), gap, tone(1550, 0.3), gap, tone(1600, 0.3), gap])
    segments = pipe.listen(phone, 8000)
    assert len(segments) == 3
    assert [s["digit"] for s in segments] == ["0", "1", "1"]
    assert segments[0]["start_s"] < segments[1]["start_s"] < segments[2]["start_s"]
    resampled = pipe.listen(np.interp(np.arange(2 * len(phone)) / 2, np.arange(len(phone)), phone), 16000)
    assert [s["digit"] for s in resampled] == ["0", "1", "1"]
    with pytest.raises(BadInputError, match="needs a mel-diffusion model"):
        pipe.generate([0])


def test_same_seed_same_wav_bytes_and_recipe(models, tmp_path):
    pipe = aigc.load(models["syn"], device="cpu")
    a = pipe.generate([0, 1, None], seed=3, steps=3)
    b = pipe.generate([0, 1, None], seed=3, steps=3)
    c = pipe.generate([0, 1, None], seed=4, steps=3)
    assert a.shape == (3, 1920) and np.array_equal(a.numpy(), b.numpy()) and not np.array_equal(a.numpy(), c.numpy())
    p1 = pipe.save(a[0], tmp_path / "a.wav", seed=3, digits=[0])
    p2 = pipe.save(b[0], tmp_path / "b.wav", seed=3, digits=[0])
    assert p1.read_bytes() == p2.read_bytes()
    recipe = read_recipe(p1)
    assert recipe["seed"] == 3 and recipe["model_id"] == pipe.model_id and recipe["task"] == "audio"
    wave, sr = sf.read(p1)
    assert sr == 8000 and len(wave) == 1920


def test_speak_joins_digits_with_pauses(models):
    pipe = aigc.load(models["syn"], device="cpu")
    wave = pipe.speak("1 0-1", seed=0, steps=2, pause_s=0.1, group_pause_s=0.3)
    assert wave.ndim == 1 and np.isfinite(wave).all() and np.abs(wave).max() <= 0.71
    shorter = pipe.speak("1 0 1", seed=0, steps=2, pause_s=0.1, group_pause_s=0.3)
    assert len(wave) - len(shorter) == int(0.3 * 8000) - int(0.1 * 8000)
    with pytest.raises(BadInputError, match="unknown speaker 'theo'"):
        pipe.speak("1", speaker="theo", steps=2)
    with pytest.raises(BadInputError, match="digits must be in 0-1"):
        pipe.generate([7], steps=2)
    for bad in (-2.0, 51.0, float("nan")):
        with pytest.raises(BadInputError, match="guidance must be between 0"):
            pipe.speak("1", guidance=bad, steps=2)


def test_cli_speak_generate_listen_eval(models, tmp_path, capsys):
    out = tmp_path / "phone.wav"
    assert main(["speak", str(models["syn"]), "0 1", "--steps", "2", "--seed", "5", "--out", str(out)]) == 0
    assert read_recipe(out)["text"] == "0 1" and read_recipe(out)["seed"] == 5
    assert main(["generate", str(models["syn"]), "--digits", "0 any", "--steps", "2", "--out",
                 str(tmp_path / "clips")]) == 0
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["0000_0.wav", "0001_any.wav"]
    capsys.readouterr()
    clip = models["folder"] / "1" / "clip3.wav"
    assert main(["listen", str(models["rec"]), str(clip)]) == 0
    assert capsys.readouterr().out.strip() == "1"
    assert main(["eval", "audio", "--recognizer", str(models["rec"]), "--synth", str(models["syn"]),
                 "--data", f"folder:{models['folder']}", "--n", "10", "--steps", "2",
                 "--out", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["recognizer"]["digit_accuracy"] >= 0.9
    synth = report["synth"]
    assert 1.0 <= synth["inception_score"] <= 2.0 and 0 <= synth["conditional_accuracy"] <= 1
    assert synth["features"]["clip_samples"] == 1920 and synth["n_fake"] == 10


def test_cli_bad_file_is_one_line_and_untouched(models, tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage")
    before = bad.read_bytes()
    assert main(["listen", str(models["rec"]), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.wav" in err and "\n" not in err and err.startswith("aigc: error:")
    assert bad.read_bytes() == before
    assert main(["speak", str(models["syn"]), "12x", "--out", str(tmp_path / "x.wav")]) == 2
    assert "cannot speak 'x'" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_cli_train_skip_bad_and_help(tmp_path, capsys):
    import shutil

    folder = tmp_path / "tones"
    write_tones(folder)
    (folder / "0" / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    out = tmp_path / "rec"
    args = ["train", "audio", "--arch", "recognizer", "--data", f"folder:{folder}", "--clip-seconds", "0.25",
            "--channels", "4", "--steps", "3", "--batch-size", "8", "--no-progress", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "broken.wav" in err and "--skip-bad" in err and not out.exists()
    assert main([*args, "--skip-bad"]) == 0
    assert "skipped 1 unreadable file(s)" in capsys.readouterr().out
    settings = json.loads((out / "config.json").read_text())["settings"]
    assert settings["skip_bad"] is True and settings["channels"] == 4
    shutil.rmtree(folder)
    for cmd in (["train", "audio"], ["listen"], ["speak"], ["eval", "audio"], ["generate", str(out)]):
        with pytest.raises(SystemExit) as exc:
            main([*cmd, "--help"])
        assert exc.value.code == 0
        assert "Example" in capsys.readouterr().out or cmd[0] == "generate"
