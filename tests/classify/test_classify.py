"""The classify task: the network, its objective, training, the Pipeline and the commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import aigc
from aigc.classify.model import ClassifierConfig, ClassifierObjective, ConvClassifier
from aigc.classify.train import ClassifySettings, load_data, train
from aigc.cli import main
from aigc.core.errors import BadInputError
from aigc.train import TrainConfig
from aigc.train.objective import Classifies



@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("cls") / "digits"
    cfg = TrainConfig(steps=150, batch_size=64, lr=3e-3, seed=0, progress=False, checkpoint_every=150)
    train(ClassifySettings(data="digits"), cfg, out)
    return out


@pytest.mark.parametrize("norm", ["none", "batch", "group"])
def test_shapes_and_gradients_reach_every_parameter(norm):
    net = ConvClassifier(ClassifierConfig(image_size=8, norm=norm, widths=(4, 8), hidden=8))
    x = torch.rand(5, 1, 8, 8)
    logits = net(x)
    assert logits.shape == (5, 10)
    F.cross_entropy(logits, torch.arange(5)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_objective_is_a_classifier_and_its_loss_is_cross_entropy():
    obj = ClassifierObjective(ClassifierConfig(image_size=8, widths=(4, 8), hidden=8))
    assert isinstance(obj, Classifies)
    x, y = torch.rand(6, 1, 8, 8), torch.randint(10, (6,))
    out = obj.training_step(obj.networks(), {"images": x, "labels": y}, None)
    logits = obj.logits(obj.networks(), x)
    assert torch.allclose(out["loss"], F.cross_entropy(logits, y))
    with pytest.raises(BadInputError, match="shape"):
        obj.training_step(obj.networks(), {"images": torch.rand(2, 1, 12, 12), "labels": y[:2]}, None)


def test_training_learns_digits_and_load_gives_identical_outputs(digits_model):
    pipe = aigc.load(str(digits_model), device="cpu")
    test = load_data("digits", split="test", image_size=8, channels=1)
    report = pipe.evaluate(test.images, test.labels)
    probs = pipe.predict(test.images)
    direct = float(np.mean(probs.argmax(1).numpy() == test.labels.numpy()))
    assert report["accuracy"] == pytest.approx(direct)
    assert report["nll"] == pytest.approx(float(-np.log(probs.numpy()[np.arange(len(probs)), test.labels.numpy()]).mean()), rel=1e-5)
    assert report["accuracy"] > 0.8, report
    again = aigc.load(str(digits_model), device="cpu")
    assert torch.equal(again.predict(test.images[:16]), probs[:16])


def test_classify_command_prints_the_class(digits_model, tmp_path, capsys):
    from sklearn.datasets import load_digits

    d = load_digits()
    idx = [i for i in range(len(d.images) - 180, len(d.images)) if d.target[i] == 0][:1]
    path = tmp_path / "zero.png"
    Image.fromarray((d.images[idx[0]] * 255 / 16).astype(np.uint8)).save(path)
    assert main(["classify", str(digits_model), str(path), "--out", str(tmp_path / "p.json")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.split("\t")[1] == "zero"
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["predictions"][0]["class"] == "zero" and "model_id" in saved["aigc_recipe"]


def test_eval_command_matches_the_pipeline(digits_model, tmp_path, capsys):
    assert main(["eval", "classify", "--model", str(digits_model), "--out", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    pipe = aigc.load(str(digits_model), device="cpu")
    test = load_data("digits", split="test", image_size=8, channels=1)
    assert report["accuracy"] == pytest.approx(pipe.evaluate(test.images, test.labels)["accuracy"])
    assert report["n"] == 180


def test_unlabelled_data_is_refused_in_one_line(tmp_path, capsys):
    assert main(["train", "classify", "--data", "faces", "--steps", "1", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "labelled" in err
