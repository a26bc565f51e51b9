"""Attacks against closed forms and their contracts; the audit command; adversarial training."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from aigc.cli import main
from aigc.core.errors import BadInputError
from aigc.tools.robust.attacks import _checkpoints, apgd_ce, fgsm, parse_attack, pgd
from aigc.tools.robust.audit import load_classifier, robust_accuracy



def train_digits(out, steps=150, **extra):
    from aigc.classify.train import ClassifySettings, train
    from aigc.train import TrainConfig

    cfg = TrainConfig(steps=steps, batch_size=64, lr=3e-3, seed=0, progress=False, checkpoint_every=steps,
                      extensions=extra)
    train(ClassifySettings(data="digits", widths=(8, 16)), cfg, out)
    return out


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return train_digits(tmp_path_factory.mktemp("rob") / "plain")


@pytest.fixture(scope="module")
def digits_held_out():
    from aigc.classify.train import load_data

    d = load_data("digits", split="test", image_size=8, channels=1)
    return d.images[:120], d.labels[:120]


def test_fgsm_equals_the_closed_form_on_a_linear_model():
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(3, 16, generator=g), torch.randn(3, generator=g)
    x, y = torch.rand(10, 16, generator=g), torch.randint(3, (10,), generator=g)
    f = lambda v: v @ w.T + b
    p = F.softmax(f(x), 1)
    grad = (p - F.one_hot(y, 3).float()) @ w  # d CE / d x
    assert torch.allclose(fgsm(f, x, y, 0.1), (x + 0.1 * grad.sign()).clamp(0, 1))


@pytest.mark.parametrize("norm,eps", [("linf", 0.2), ("l2", 1.0)])
def test_pgd_stays_in_the_ball_and_raises_the_loss(model, digits_held_out, norm, eps):
    _, f = load_classifier(str(model))
    x, y = digits_held_out
    adv = pgd(f, x, y, eps, steps=10, norm=norm, restarts=2, generator=torch.Generator().manual_seed(1))
    delta = (adv - x).flatten(1)
    size = delta.abs().max(1).values if norm == "linf" else delta.norm(dim=1)
    assert float(size.max()) <= eps + 1e-5 and adv.min() >= 0 and adv.max() <= 1
    with torch.no_grad():
        assert F.cross_entropy(f(adv), y) > F.cross_entropy(f(x), y) + 0.5


def test_attacks_are_seeded(model, digits_held_out):
    _, f = load_classifier(str(model))
    x, y = digits_held_out
    a = pgd(f, x, y, 0.1, steps=3, generator=torch.Generator().manual_seed(5))
    b = pgd(f, x, y, 0.1, steps=3, generator=torch.Generator().manual_seed(5))
    c = pgd(f, x, y, 0.1, steps=3, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(apgd_ce(f, x, y, 0.1, steps=5, generator=torch.Generator().manual_seed(5)),
                       apgd_ce(f, x, y, 0.1, steps=5, generator=torch.Generator().manual_seed(5)))


def test_apgd_checkpoints_follow_the_paper_and_it_beats_fgsm(model, digits_held_out):
    # p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)  (Croce & Hein 2020, sec. 3.2)
    assert _checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    _, f = load_classifier(str(model))
    x, y = digits_held_out
    fgsm_acc = robust_accuracy(f, x, y, attack="fgsm", eps=0.1)[0]
    apgd_acc = robust_accuracy(f, x, y, attack="apgd-20", eps=0.1)[0]
    assert apgd_acc <= fgsm_acc
    with pytest.raises(BadInputError):
        parse_attack("pgd-many")


def test_audit_command_reports_and_draws(model, tmp_path, capsys):
    assert main(["audit", "robustness", str(model), "--eps", "0.1", "--attack", "pgd-5", "--n", "60",
                 "--curve", "0,0.1", "--pictures", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["curve"][0]["accuracy"] == report["clean_accuracy"]
    assert report["curve"][1]["accuracy"] == report["robust_accuracy"] < report["clean_accuracy"]
    assert (tmp_path / "examples.png").is_file() and (tmp_path / "curve.png").is_file()


def test_audit_refuses_a_model_that_is_not_a_classifier(tmp_path, capsys):
    gen = tmp_path / "gen"
    assert main(["train", "image-gen", "--arch", "vae", "--data", "digits", "--image-size", "8", "--features", "16",
                 "--steps", "1", "--batch-size", "8", "--out", str(gen), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["audit", "robustness", str(gen)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a classifier" in err and "\n" not in err


def test_adversarial_training_raises_robust_accuracy(model, tmp_path, digits_held_out):
    robust = train_digits(tmp_path / "at", adversarial={"method": "fgsm-rs", "eps": 0.1, "steps": 1, "alpha": None, "beta": 6.0})
    x, y = digits_held_out
    plain_acc = robust_accuracy(load_classifier(str(model))[1], x, y, attack="pgd-10", eps=0.1)[0]
    at_acc = robust_accuracy(load_classifier(str(robust))[1], x, y, attack="pgd-10", eps=0.1)[0]
    assert at_acc > plain_acc + 0.05, (plain_acc, at_acc)
    assert json.loads((robust / "config.json").read_text())["extensions"]["adversarial"]["method"] == "fgsm-rs"
