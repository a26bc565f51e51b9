"""``aigc audit robustness`` on an audio classifier: the spoken-digit recogniser (the feature net
of the audio metrics) is found through the Classifies capability and attacked on its waves."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import aigc
from aigc.cli import main
from aigc.tools.robust.attacks import input_bounds
from aigc.tools.robust.audit import labelled_examples, load_classifier, robust_accuracy
from aigc.train.objective import Classifies



@pytest.fixture(scope="module")
def recognizer(tmp_path_factory):
    """A tiny recogniser of two 'digits' (low and high tones, 8 clips each), trained here."""
    from aigc.data.audio import write_audio

    root = tmp_path_factory.mktemp("tones")
    rng = np.random.default_rng(0)
    t = np.arange(2400) / 8000
    for label, base in (("0", 300.0), ("1", 1500.0)):
        for i in range(8):
            wave = (0.3 + 0.05 * i) * np.sin(2 * np.pi * base * (1 + 0.05 * i) * t) + 0.01 * rng.standard_normal(2400)
            write_audio(root / "clips" / label / f"clip{i}.wav", np.pad(wave.astype(np.float32), (400, 400)), 8000)
    out = root / "rec"
    assert main(["train", "audio", "--arch", "recognizer", "--data", f"folder:{root / 'clips'}", "--clip-seconds",
                 "0.25", "--channels", "4", "--steps", "60", "--batch-size", "8", "--lr", "3e-3", "--seed", "0",
                 "--no-progress", "--out", str(out)]) == 0
    return out, root / "clips"


def test_the_recognizer_is_a_classifier_of_waves(recognizer):
    model, clips = recognizer
    pipe = aigc.load(str(model), device="cpu")
    assert isinstance(pipe.objective, Classifies) and input_bounds(pipe.objective) == (-1.0, 1.0)
    x, y, bounds = labelled_examples(pipe, f"folder:{clips}", "all", None)
    assert x.shape == (16, pipe.objective.config.clip_samples) and bounds == (-1.0, 1.0)
    _, f = load_classifier(str(model), pipe=pipe)
    with torch.no_grad():  # the logits are the recogniser's own digit scores
        assert torch.equal(f(x).argmax(1), pipe.classify(x)["digit_probs"].argmax(1))
        assert float((f(x).argmax(1) == y).float().mean()) == 1.0


def test_pgd_on_waves_stays_in_the_ball_and_the_wave_range(recognizer):
    model, clips = recognizer
    pipe, f = load_classifier(str(model))
    x, y, bounds = labelled_examples(pipe, f"folder:{clips}", "all", None)
    _, adv = robust_accuracy(f, x, y, attack="pgd-10", eps=0.05, seed=0, bounds=bounds)
    assert (adv - x).abs().max() <= 0.05 + 1e-6 and adv.min() >= -1 and adv.max() <= 1
    assert adv.min() < -0.2  # negative samples kept: waves are not clamped to the image range
    with torch.no_grad():
        assert torch.nn.functional.cross_entropy(f(adv), y) > torch.nn.functional.cross_entropy(f(x), y)
    assert robust_accuracy(f, x, y, attack="pgd-10", eps=0.05, seed=0, bounds=bounds)[1].equal(adv)  # seeded


def test_audit_command_on_the_recognizer(recognizer, tmp_path, capsys):
    model, clips = recognizer
    out = tmp_path / "audit.json"
    assert main(["audit", "robustness", str(model), "--data", f"folder:{clips}", "--split", "all", "--attack",
                 "pgd-10", "--eps", "0.1", "--curve", "0,0.002,0.1", "--pictures", str(tmp_path / "pics"),
                 "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["input_bounds"] == [-1.0, 1.0] and report["n"] == 16
    assert report["clean_accuracy"] == 1.0 and report["robust_accuracy"] < 0.5, report  # eps 0.1 breaks it
    curve = [c["accuracy"] for c in report["curve"]]
    assert curve[0] == 1.0 and curve[-1] == report["robust_accuracy"] and curve[-1] <= curve[1]
    assert (tmp_path / "pics" / "curve.png").is_file()
