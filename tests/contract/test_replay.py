"""`aigc replay FILE --model DIR` regenerates an artifact from its recipe, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.cli import main
from aigc.core.artifacts import read_recipe


@pytest.fixture(scope="module")
def dcgan(tmp_path_factory):
    out = tmp_path_factory.mktemp("replay") / "dcgan"
    assert main(["train", "image-gen", "--arch", "dcgan", "--data", "digits", "--image-size", "8", "--features", "16",
                 "--steps", "3", "--batch-size", "8", "--out", str(out), "--no-progress"]) == 0
    return out


def test_png_replay_is_byte_identical(dcgan, tmp_path, capsys):
    png = tmp_path / "grid.png"
    assert main(["generate", str(dcgan), "--n", "9", "--seed", "3", "--out", str(png)]) == 0
    recipe = read_recipe(png)
    assert recipe["seed"] == 3 and recipe["replay"]["argv"][0] == "generate"
    assert main(["replay", str(png), "--model", str(dcgan)]) == 0
    assert "byte-identical" in capsys.readouterr().out
    # a changed file is reported as different (exit 1), so the check can fail
    from PIL import Image

    from aigc.core.artifacts import save_png

    pixels = np.array(Image.open(png))
    pixels[0, 0] ^= 0xFF
    save_png(png, pixels, {k: v for k, v in recipe.items() if k != "aigc_version"})
    assert main(["replay", str(png), "--model", str(dcgan)]) == 1
    assert "DIFFERENT" in capsys.readouterr().out


def test_png_in_a_folder_replays(dcgan, tmp_path, capsys):
    folder = tmp_path / "each"
    assert main(["generate", str(dcgan), "--n", "3", "--seed", "1", "--out", str(folder)]) == 0
    assert main(["replay", str(folder / "00002.png"), "--model", str(dcgan)]) == 0


def test_replay_refuses_another_model(dcgan, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["train", "image-gen", "--arch", "dcgan", "--data", "digits", "--image-size", "8", "--features", "16",
                 "--steps", "2", "--batch-size", "8", "--out", str(other), "--no-progress"]) == 0
    png = tmp_path / "g.png"
    assert main(["generate", str(dcgan), "--n", "4", "--out", str(png)]) == 0
    assert main(["replay", str(png), "--model", str(other)]) == 2
    assert "was made by model" in capsys.readouterr().err


def test_text_replay_is_byte_identical(tmp_path, capsys):
    model = tmp_path / "gpt"
    assert main(["train", "text", "--data", "builtin:pydoc", "--context", "16", "--layers", "1", "--heads", "2",
                 "--embed", "16", "--steps", "3", "--batch-size", "4", "--out", str(model), "--no-progress"]) == 0
    out = tmp_path / "story.txt"
    assert main(["generate", str(model), "--prompt", "The", "--max-tokens", "20", "--seed", "5",
                 "--temperature", "1.0", "--out", str(out)]) == 0
    assert read_recipe(out)["seed"] == 5
    assert main(["replay", str(out), "--model", str(model)]) == 0
    assert "byte-identical" in capsys.readouterr().out


def test_midi_and_its_png_replay_byte_identical(tmp_path, midi_folder, capsys):
    from aigc.core.registry import task

    model = tmp_path / "music"
    argv = [a.format(midis=midi_folder) for a in task("music").smoke_train]
    assert main(["train", "music", *argv, "--out", str(model), "--no-progress"]) == 0
    out = tmp_path / "tune.mid"
    assert main(["generate", str(model), "--bars", "2", "--seed", "4", "--out", str(out)]) == 0
    assert read_recipe(out)["seed"] == 4
    assert main(["replay", str(out), "--model", str(model)]) == 0
    assert "byte-identical" in capsys.readouterr().out


def test_recommendations_json_replays(tmp_path, ratings_csv, capsys):
    model = tmp_path / "svd"
    assert main(["train", "recommend", "--algo", "svd", "--data", f"csv:{ratings_csv}", "--epochs", "2",
                 "--out", str(model), "--no-progress"]) == 0
    out = tmp_path / "recs.json"
    assert main(["recommend", str(model), "--user", "3", "--out", str(out)]) == 0
    argv = read_recipe(out)["replay"]["argv"]  # a task's own command pins its defaults too
    assert argv[argv.index("--n") + 1] == "10" and "--include-seen" not in argv and "--liked" not in argv
    assert main(["replay", str(out), "--model", str(model)]) == 0
    assert "byte-identical" in capsys.readouterr().out


def test_replay_survives_a_later_change_of_defaults(dcgan, tmp_path, monkeypatch, capsys):
    """Every option a command left to its default is recorded, so a file made today replays after a
    later version moves the defaults (here the seed and the number of images; --out left default too)."""
    from aigc.image_gen import cli as image_cli

    monkeypatch.chdir(tmp_path)
    assert main(["generate", str(dcgan), "--batch-size=16"]) == 0
    made = tmp_path / "samples.png"
    argv = read_recipe(made)["replay"]["argv"]
    assert argv[:3] == ["generate", str(dcgan), "--batch-size=16"] and "--batch-size" not in argv
    pinned = dict(zip(argv[3::2], argv[4::2]))
    assert pinned["--seed"] == "0" and pinned["--n"] == "64" and pinned["--out"] == "samples.png"
    assert "--no-watermark" not in argv and "--no-progress" not in argv  # switches are not pinned

    def moved(model_dir, real=image_cli.generate_parser):
        parser = real(model_dir)
        for action in parser._actions:
            action.default = {"seed": 7, "n": 9}.get(action.dest, action.default)
        return parser

    monkeypatch.setattr(image_cli, "generate_parser", moved)
    assert main(["generate", str(dcgan), "--out", "later.png"]) == 0
    later = read_recipe(tmp_path / "later.png")
    assert (later["seed"], later["n"]) == (7, 9)  # the defaults did move
    capsys.readouterr()
    assert main(["replay", str(made), "--model", str(dcgan)]) == 0
    assert "byte-identical" in capsys.readouterr().out


def test_a_file_made_before_defaults_were_pinned_still_replays(dcgan, tmp_path, monkeypatch, capsys):
    from aigc.core import recipe

    out = tmp_path / "old.png"
    with monkeypatch.context() as m:  # an earlier version recorded only the typed command line
        m.setattr(recipe, "pin_defaults", lambda *a: None)
        assert main(["generate", str(dcgan), "--n", "4", "--out", str(out)]) == 0
    assert "--seed" not in read_recipe(out)["replay"]["argv"]
    assert main(["replay", str(out), "--model", str(dcgan)]) == 0  # the rerun records what the file has
    assert "byte-identical" in capsys.readouterr().out
