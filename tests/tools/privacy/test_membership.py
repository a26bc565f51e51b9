"""Membership inference and copy detection against references and planted answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import LinearRegression

import aigc
from aigc.tools.privacy.membership import (
    attack_scores,
    example_losses,
    nearest_neighbour_audit,
    roc_auc,
    tpr_at_fpr,
)



def test_auc_and_tpr_match_references():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 300), np.round(rng.normal(0, 1, 200), 1)
    assert roc_auc(a, b) == pytest.approx(roc_auc_score(np.r_[np.ones(300), np.zeros(200)], np.r_[a, b]))
    b = np.arange(100.0)
    assert tpr_at_fpr(np.array([98.5, 99.5, 50.0, 120.0]), b, 0.01) == 0.5  # threshold: the top non-member, 99


def test_generic_per_example_loss_is_the_objectives():
    obj = LinearRegression()
    x, y = torch.randn(5, 4), torch.randn(5)
    losses = example_losses(obj, obj.networks(), {"x": x, "y": y})
    with torch.no_grad():
        assert np.allclose(losses, ((obj.net(x).squeeze(1) - y) ** 2).numpy(), atol=1e-6)


def _train(out, split, steps, n=None):
    from aigc.classify.train import ClassifySettings, train
    from aigc.train import TrainConfig

    cfg = TrainConfig(steps=steps, batch_size=32, lr=3e-3, seed=0, progress=False, checkpoint_every=steps)
    train(ClassifySettings(data="digits", split=split, widths=(8, 16), hidden=64), cfg, out)
    return aigc.load(str(out), device="cpu")


def test_membership_auc_is_chance_on_unseen_and_high_when_overfitted(tmp_path):
    from aigc.classify.train import load_data

    test = load_data("digits", split="test", image_size=8, channels=1)
    train_set = load_data("digits", split="train", image_size=8, channels=1)
    # the model never saw either half of the test split: chance
    pipe = _train(tmp_path / "a", "train", 200)
    half = {"images": test.images[:90], "labels": test.labels[:90]}
    other = {"images": test.images[90:], "labels": test.labels[90:]}
    chance = attack_scores(example_losses(pipe.objective, pipe.nets, half), example_losses(pipe.objective, pipe.nets, other))
    assert abs(chance["loss_threshold"]["auc"] - 0.5) < 0.12, chance
    # an overfitted model (the test split, 180 images, seen 70 times each) remembers them
    pipe = _train(tmp_path / "b", "test", 400)
    members = {"images": test.images, "labels": test.labels}
    outsiders = {"images": train_set.images[:180], "labels": train_set.labels[:180]}
    scores = attack_scores(example_losses(pipe.objective, pipe.nets, members),
                           example_losses(pipe.objective, pipe.nets, outsiders))
    assert scores["loss_threshold"]["auc"] > 0.75 and scores["likelihood_ratio"]["auc"] > 0.65, scores


def test_copy_detection_sees_copies():
    g = torch.Generator().manual_seed(0)
    members, holdout = torch.rand(50, 1, 8, 8, generator=g), torch.rand(50, 1, 8, 8, generator=g)
    copies = members[:20] + 0.01 * torch.randn(20, 1, 8, 8, generator=g)
    report = nearest_neighbour_audit(copies, members, holdout)
    assert report["fraction_closer_to_train"] == 1.0
    fresh = nearest_neighbour_audit(torch.rand(40, 1, 8, 8, generator=g), members, holdout)
    assert 0.2 < fresh["fraction_closer_to_train"] < 0.8
