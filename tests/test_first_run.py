"""The first hour of a new user: resume from the model directory alone, conflicting settings named
key by key with nothing written, corrupt weights refused, EMA warm-up, one-line errors, file modes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import aigc
from aigc.cli import main

DCGANObjective = ["train", "image-gen", "--arch", "dcgan", "--data", "digits", "--image-size", "8", "--features", "16",
         "--latent-dim", "4", "--batch-size", "8", "--no-progress"]


@pytest.fixture()
def trained(tmp_path):
    out = tmp_path / "dcgan"
    assert main([*DCGANObjective, "--steps", "4", "--ema", "0.999", "--checkpoint-every", "2", "--out", str(out)]) == 0
    return out


def test_resume_needs_only_out_and_keeps_every_setting(trained, capsys):
    ema_keys = {k for k in aigc.core.modeldir.load_weights(trained / "model.safetensors") if k.startswith("ema.")}
    assert ema_keys
    # the README's resume line: arch and data repeated, image size / EMA / sizes not
    assert main(["train", "image-gen", "--arch", "dcgan", "--data", "digits", "--steps", "6", "--out", str(trained),
                 "--resume", "--no-progress"]) == 0
    weights = aigc.core.modeldir.load_weights(trained / "model.safetensors")
    assert {k for k in weights if k.startswith("ema.")} == ema_keys  # EMA kept without repeating --ema
    assert int(aigc.core.modeldir.weights_metadata(trained / "model.safetensors")["step"]) == 6


def test_conflicting_resume_names_each_key_and_writes_nothing(trained, capsys):
    config = (trained / "config.json").read_bytes()
    weights = (trained / "model.safetensors").read_bytes()
    code = main(["train", "image-gen", "--image-size", "16", "--ema", "0.99", "--steps", "8", "--out", str(trained),
                 "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--image-size: stored 8, given 16" in err and "--ema: stored 0.999, given 0.99" in err
    assert len(err.strip().splitlines()) == 1
    assert (trained / "config.json").read_bytes() == config
    assert (trained / "model.safetensors").read_bytes() == weights


def test_resume_onto_corrupt_weights_fails(trained, capsys):
    (trained / "model.safetensors").write_bytes(os.urandom(256))
    code = main(["train", "image-gen", "--steps", "2", "--out", str(trained), "--resume", "--no-progress"])
    assert code == 2
    assert "model.safetensors" in capsys.readouterr().err


def test_a_fresh_run_into_a_model_of_other_settings_names_the_key(trained, capsys):
    code = main([*DCGANObjective, "--image-size", "16", "--steps", "2", "--out", str(trained)])
    assert code == 2
    assert "model.image_size: stored 8, given 16" in capsys.readouterr().err


def test_ema_warm_up_gives_samples_near_the_live_network(tmp_path):
    """50 steps with --ema 0.999: without warm-up the EMA would still be 95 % the initial network."""
    with_ema, without = tmp_path / "ema", tmp_path / "plain"
    common = [*DCGANObjective, "--steps", "50", "--checkpoint-every", "1000", "--seed", "3"]
    assert main([*common, "--ema", "0.999", "--out", str(with_ema)]) == 0
    assert main([*common, "--out", str(without)]) == 0
    weights = aigc.core.modeldir.load_weights(with_ema / "model.safetensors")
    from aigc.core.modeldir import split_prefix
    from aigc.core.registry import architecture

    cls = architecture("image-gen", "dcgan")
    initial = aigc.train.run.build_seeded(3, lambda: cls(aigc.load(str(without), device="cpu").objective.config))
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    nets = {}
    for name, prefix in (("ema", "ema.generator"), ("live", "generator")):
        g = initial.networks()["generator"].__class__(initial.config)
        g.load_state_dict(split_prefix(weights, prefix))
        nets[name] = g.eval()
    g0 = initial.networks()["generator"].eval()
    with torch.no_grad():
        ema_out, live_out, init_out = (net(z) for net in (nets["ema"], nets["live"], g0))
    assert (ema_out - live_out).pow(2).mean() < (ema_out - init_out).pow(2).mean()


def test_non_utf8_prompt_is_one_line(tmp_path):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, "-m", "aigc.cli", "generate", str(tmp_path), "--prompt", b"\xff\xfe".decode(
        "utf-8", "surrogateescape")], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not valid UTF-8" in proc.stderr


@pytest.mark.parametrize("argv,words", [
    (["generate", "{model}", "--out", "{file}/x.png"], "is a file, not a folder"),
    (["generate", "{model}", "--n", "0"], "expected a number >= 1"),
    (["stylize", "{file}", "{tmp}/o.png", "--style", "{file}", "--size", "100000"], "from 16 to 4096"),
])
def test_user_mistakes_exit_2_with_one_line(trained, tmp_path, capsys, argv, words):
    file = tmp_path / "existing.png"
    file.write_bytes(b"x")
    argv = [a.format(model=trained, file=file, tmp=tmp_path) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and words in err, err


def test_outputs_follow_the_umask(tmp_path):
    trained = tmp_path / "m"
    old = os.umask(0o022)
    try:
        assert main([*DCGANObjective, "--steps", "2", "--out", str(trained)]) == 0
        assert main(["generate", str(trained), "--n", "4", "--out", str(tmp_path / "g.png")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "g.png").stat().st_mode & 0o777 == 0o644
    assert (trained / "model.safetensors").stat().st_mode & 0o777 == 0o644
    assert (trained / "config.json").stat().st_mode & 0o777 == 0o644
