"""The `aigc` command line as a user meets it: help, a full run, and one-line errors."""

import json
import subprocess
import sys

import pytest

from aigc.cli import main
from aigc.core.artifacts import read_png_metadata


def aigc(*args, check=None):
    proc = subprocess.run([sys.executable, "-m", "aigc.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["train", "image-gen", "--help"],
                                  ["info", "--help"], ["generate", "--help"], ["inpaint", "--help"]])
def test_help_everywhere(args, capsys):
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own --help exits
        code = exc.code
    assert code == 0
    assert "usage" in capsys.readouterr().out


def test_train_generate_info_end_to_end(tmp_path):
    out = tmp_path / "vae"
    aigc("train", "image-gen", "--arch", "vae", "--data", "digits", "--image-size", "8", "--steps", "6",
         "--batch-size", "16", "--out", out, "--no-progress", check=0)
    assert (out / "logs" / "curves.png").is_file() and (out / "samples" / "latest.png").is_file()
    aigc("generate", out, "--n", "9", "--seed", "4", "--out", tmp_path / "g.png", check=0)
    meta = read_png_metadata(tmp_path / "g.png")
    assert meta["seed"] == 4 and meta["n"] == 9 and len(meta["model_id"]) == 16
    info = json.loads(aigc("info", out, "--json", check=0).stdout)
    assert info["architecture"] == "vae" and info["step"] == 6 and info["model_id"] == meta["model_id"]
    again = aigc("train", "image-gen", "--arch", "vae", "--data", "digits", "--image-size", "8",
                 "--steps", "8", "--batch-size", "16", "--out", out, "--no-progress", "--resume", check=0)
    assert "step 8" in again.stdout


@pytest.mark.parametrize("args, message", [
    (["generate", "does-not-exist"], "does not exist"),
    (["train", "image-gen", "--data", "folder:does-not-exist", "--out", "x"], "does not exist"),
    (["train", "image-gen", "--data", "nope", "--out", "x"], "unknown image source"),
    (["train", "image-gen", "--lr", "-1", "--out", "x", "--steps", "1"], "lr must be"),
    (["train", "image-gen", "--precision", "fp16", "--device", "cpu", "--out", "x"], "fp16"),
])
def test_bad_input_is_one_clear_line(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIGC_DEBUG", raising=False)
    assert main(args) != 0
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_image_in_folder_is_named(tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "bad.png").write_bytes(b"nope")
    assert main(["train", "image-gen", "--data", f"folder:{folder}", "--out", str(tmp_path / "o")]) == 2
    assert "bad.png" in capsys.readouterr().err


def test_model_command_help_lists_the_task_options(tmp_path, capsys):
    from aigc.image_gen.vae import VAEObjective, VAEConfig
    from aigc.train import TrainConfig, Trainer

    Trainer(VAEObjective(VAEConfig(image_size=8, features=16)), TrainConfig(steps=1, batch_size=4, progress=False),
            tmp_path, meta={"task": "image-gen", "architecture": "vae"}).fit(
        {"images": __import__("torch").rand(8, 1, 8, 8)})
    with pytest.raises(SystemExit) as exc:
        main(["generate", str(tmp_path), "--help"])
    assert exc.value.code == 0 and "--seed" in capsys.readouterr().out


def test_argparse_errors_exit_nonzero():
    proc = aigc("train", "image-gen", "--arch", "nope", "--out", "x")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_help_never_imports_torch():
    """`--help` answers at once: no task's training parser, nor the model commands, pull torch in."""
    from aigc.core.registry import TASKS

    helps = [["train", name, "--help"] for name in sorted(TASKS)] + [["generate", "--help"], ["eval", "--help"]]
    code = ("import sys\nfrom aigc.cli import main\n"
            f"for argv in {helps!r}:\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "    assert 'torch' not in sys.modules, argv\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("usage:") == len(helps)
