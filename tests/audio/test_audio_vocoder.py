"""The neural vocoder: output length, its losses against closed forms, a few steps through the one
Trainer lower the loss, aigc.load, same seed same bytes, and a synthesiser's Pipeline and CLI
using it in place of Griffin-Lim."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from helpers import write_tones

import aigc
from aigc.audio.spectral import MelConfig, log_mel
from aigc.audio.train import AudioSettings, train
from aigc.audio.vocoder import (
    VocoderConfig,
    VocoderObjective,
    mel_distance,
    multi_resolution_stft_loss,
)
from aigc.cli import main
from aigc.core.artifacts import read_recipe
from aigc.core.errors import BadInputError
from aigc.train import TrainConfig
from aigc.train.trainer import read_metrics


def _tiny(**kw) -> VocoderObjective:
    torch.manual_seed(0)
    return VocoderObjective(VocoderConfig(channels=16, layers=2, n_mels=16, clip_samples=1920, **kw))


def test_output_length_and_shapes():
    obj = _tiny()
    mel = torch.randn(3, 16, 16)
    assert obj.synthesize(obj.networks(), mel).shape == (3, 128 * 15)
    assert obj.synthesize(obj.networks(), mel, length=1900).shape == (3, 1900)
    assert obj.networks()["vocoder"](mel).shape == (3, 257, 16)
    with pytest.raises(BadInputError, match="mel bands"):
        obj.synthesize(obj.networks(), torch.randn(3, 40, 16))


def test_multi_resolution_stft_loss_closed_form():
    """For an estimate a * x: spectral convergence |1 - a| and log-magnitude L1 |log a| at every
    resolution; zero for the reference itself."""
    x = 0.3 * torch.randn(2, 4000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    res = ((128, 32), (512, 128))
    assert float(multi_resolution_stft_loss(x, x, res)) == 0.0
    for a in (0.5, 2.0):
        assert float(multi_resolution_stft_loss(a * x, x, res)) == pytest.approx(abs(1 - a) + abs(math.log(a)), abs=2e-3)


def test_mel_distance_is_the_log_mel_l1():
    cfg = MelConfig(n_mels=16)
    x = 0.3 * torch.randn(2, 4000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    # gain g shifts log-mel power by 2 log g wherever both are above the floor
    assert float(mel_distance(0.5 * x, x, cfg, -30.0)) == pytest.approx(2 * math.log(2), rel=1e-6)
    manual = (log_mel(x * 0.1, cfg).clamp_min(-9.21) - log_mel(x, cfg).clamp_min(-9.21)).abs().mean()
    assert float(mel_distance(x * 0.1, x, cfg, -9.21)) == pytest.approx(float(manual), rel=1e-12)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from aigc.core import registry

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(registry.TASKS, "audio", "aigc.audio.task:TASK")
        root = tmp_path_factory.mktemp("vocoder-models")
        write_tones(root / "tones", 6)
        common = {"data": f"folder:{root / 'tones'}", "clip_seconds": 0.25, "n_mels": 16}
        config = TrainConfig(steps=40, batch_size=6, lr=3e-3, progress=False, checkpoint_every=1000, log_every=1)
        train(AudioSettings(arch="vocoder", channels=16, model={"layers": 2}, **common), config, root / "voc")
        train(AudioSettings(arch="mel-diffusion", channels=8, model={"mult": [1, 2], "blocks": 1}, **common),
              config.replace(steps=2), root / "syn")
        train(AudioSettings(arch="vocoder", channels=8, model={"layers": 1}, **{**common, "n_mels": 20}),
              config.replace(steps=1), root / "voc20")
        train(AudioSettings(arch="recognizer", channels=4, **{**common, "n_mels": 40}), config.replace(steps=20),
              root / "rec")
        yield root


def test_a_few_trainer_steps_lower_the_loss_and_it_loads(models):
    losses = [m["loss"] for m in read_metrics(models / "voc") if "loss" in m]
    assert len(losses) == 40 and np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    cfg = json.loads((models / "voc" / "config.json").read_text())
    assert cfg["architecture"] == "vocoder" and "num_classes" not in cfg["model"]
    pipe = aigc.load(models / "voc", device="cpu")
    assert pipe.architecture == "vocoder"
    mel = pipe.objective.mel_input(torch.zeros(2, 1920))
    assert mel.shape == (2, 16, 16)
    a, b = pipe.vocode(mel, length=1920), aigc.load(models / "voc", device="cpu").vocode(mel, length=1920)
    assert a.shape == (2, 1920) and torch.equal(a, b)
    with pytest.raises(BadInputError, match="needs a mel-diffusion model"):
        pipe.generate([0])


def test_synthesiser_uses_the_vocoder_in_place_of_griffin_lim(models):
    syn = aigc.load(models / "syn", device="cpu")
    neural = syn.generate([0, 1], seed=3, steps=2, vocoder=models / "voc")
    again = syn.generate([0, 1], seed=3, steps=2, vocoder=aigc.load(models / "voc", device="cpu"))
    griffin = syn.generate([0, 1], seed=3, steps=2, griffin_lim_iters=2)
    assert neural.shape == griffin.shape == (2, 1920) and torch.equal(neural, again)
    assert not torch.allclose(neural, griffin, atol=1e-3)
    with pytest.raises(BadInputError, match="n_mels 20 vs 16"):
        syn.generate([0], steps=2, vocoder=models / "voc20")
    with pytest.raises(BadInputError, match="not an audio vocoder"):
        syn.generate([0], steps=2, vocoder=models / "syn")


def test_speak_cli_with_a_vocoder_same_seed_same_samples(models, tmp_path):
    import soundfile as sf

    argv = ["speak", str(models / "syn"), "0 1", "--steps", "2", "--vocoder", str(models / "voc"), "--seed", "5"]
    assert main([*argv, "--out", str(tmp_path / "a.wav")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b.wav")]) == 0  # the recipe names the file: compare samples
    a, b = sf.read(tmp_path / "a.wav", dtype="int16")[0], sf.read(tmp_path / "b.wav", dtype="int16")[0]
    assert len(a) > 0.5 * 8000 and np.array_equal(a, b)
    recipe = read_recipe(tmp_path / "a.wav")
    assert recipe["vocoder"] == aigc.load(models / "voc", device="cpu").model_id


def test_vocoders_scored_on_real_clips_and_eval_cli(models, tmp_path):
    from aigc.audio.evaluate import evaluate_vocoders
    from aigc.data.audio import load_audio_source

    real = load_audio_source(f"folder:{models / 'tones'}", split="test", sr=8000)
    voc, rec = aigc.load(models / "voc", device="cpu"), aigc.load(models / "rec", device="cpu")
    report = evaluate_vocoders(voc, rec, real, griffin_lim_iters=8)
    assert report["n"] == len(real) == 12 and report["vocoder_model_id"] == voc.model_id
    for name in ("vocoder", "griffin_lim"):
        r = report[name]
        assert 0 <= r["digit_accuracy"] <= 1 and r["mel_l1"] > 0 and math.isfinite(r["si_snr_db"])
    # the Griffin-Lim figures recomputed directly, clip by clip, from the centred real clips
    from aigc.audio.evaluate import _clips
    from aigc.audio.spectral import log_mel_to_wave
    from aigc.metrics.audio import si_snr

    clips, cfg = _clips(real, 1920), voc.objective.config
    gl = log_mel_to_wave(voc.objective.mel_input(clips).double(), cfg.mel(), n_iter=8, length=1920).float()
    per_clip = [float(mel_distance(g[None], c[None], cfg.mel(), cfg.log_floor)) for g, c in zip(gl, clips)]
    assert report["griffin_lim"]["mel_l1"] == pytest.approx(np.mean(per_clip), rel=1e-4)
    assert report["griffin_lim"]["si_snr_db"] == pytest.approx(float(si_snr(clips, gl).mean()), rel=1e-6)
    assert main(["eval", "audio", "--recognizer", str(models / "rec"), "--synth", str(models / "syn"),
                 "--vocoder", str(models / "voc"), "--data", f"folder:{models / 'tones'}", "--n", "10",
                 "--steps", "2", "--out", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["synth"]["vocoder"] == voc.model_id
