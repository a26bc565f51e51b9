"""DP-SGD on the class-conditional GAN from the command line: ``--d-norm none`` makes its
discriminator one that per-example clipping can train; the default (spectral norm) is refused in
one line that says what to do."""

from __future__ import annotations

import json


from aigc.cli import main



def cgan_argv(out, *extra: str) -> list[str]:
    return ["train", "image-gen", "--arch", "cgan", "--data", "digits", "--image-size", "8", "--features", "16",
            "--latent-dim", "8", "--steps", "3", "--batch-size", "16", "--dp-epsilon", "10", "--no-progress",
            "--out", str(out), *extra]


def test_dp_cgan_trains_from_the_cli_with_d_norm_none(tmp_path):
    assert main(cgan_argv(tmp_path / "gan", "--d-norm", "none")) == 0
    config = json.loads((tmp_path / "gan" / "config.json").read_text())
    assert config["model"]["d_norm"] == "none" and config["settings"]["d_norm"] == "none"
    dp = config["extensions"]["dp"]
    assert dp["networks"] == ["discriminator"] and dp["steps"] == 3 and dp["target_epsilon"] == 10
    assert 9 < dp["epsilon"] <= 10 and dp["noise_multiplier"] > 0, dp  # the planned steps spend the budget


def test_spectral_norm_is_refused_in_one_line(tmp_path, capsys):
    assert main(cgan_argv(tmp_path / "gan")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "spectral" in err[0], err
    assert not (tmp_path / "gan" / "model.safetensors").exists()


def test_d_norm_is_refused_for_a_model_without_a_discriminator(tmp_path, capsys):
    argv = ["train", "image-gen", "--arch", "vae", "--d-norm", "none", "--steps", "1", "--out", str(tmp_path / "v")]
    assert main(argv) == 2
    assert "--d-norm applies to the GANs" in capsys.readouterr().err


def vae_argv(out, *extra: str) -> list[str]:
    return ["train", "image-gen", "--arch", "vae", "--cond", "--data", "digits", "--image-size", "8",
            "--features", "16", "--latent-dim", "4", "--steps", "3", "--batch-size", "16", "--dp-epsilon", "10",
            "--no-progress", "--out", str(out), *extra]


def test_dp_conditional_vae_makes_encoder_and_decoder_private(tmp_path):
    """The decoder reads the images through the reconstruction term, so unlike a GAN's generator it
    cannot stay public: both networks are clipped and noised, under one optimizer."""
    import aigc

    assert main(vae_argv(tmp_path / "vae")) == 0
    config = json.loads((tmp_path / "vae" / "config.json").read_text())
    dp = config["extensions"]["dp"]
    assert sorted(dp["networks"]) == ["decoder", "encoder"] and 9 < dp["epsilon"] <= 10, dp
    pipe = aigc.load(str(tmp_path / "vae"), device="cpu")
    assert pipe.num_classes == 10
    assert pipe.generate(4, seed=0, labels=[0, 1, 2, 3]).shape == (4, 1, 8, 8)


def test_dp_vae_keeps_the_standard_normal_prior(tmp_path, capsys):
    """The latent mixture is fitted to the training images after the gradient steps: outside the
    DP-SGD accounting, so a private VAE does not fit it."""
    import aigc

    assert main([a for a in vae_argv(tmp_path / "vae") if a != "--cond"]) == 0
    assert "keeps the N(0, I) prior" in capsys.readouterr().out
    assert not aigc.load(str(tmp_path / "vae"), device="cpu").nets["decoder"].prior.fitted


def test_dp_networks_may_not_leave_a_data_reading_network_public(tmp_path, capsys):
    assert main(vae_argv(tmp_path / "vae", "--dp-networks", "encoder")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "['decoder']" in err[0] and "must be private" in err[0], err
    assert not (tmp_path / "vae" / "model.safetensors").exists()
