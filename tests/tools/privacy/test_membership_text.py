"""Membership inference on language models: per-sequence losses against a direct computation,
chance on a model that never saw the members, a clear signal on one that memorised them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import aigc
from aigc.cli import main
from aigc.core.errors import BadInputError
from aigc.tools.privacy.membership_text import read_sequences, sequence_losses

LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz "))



def records(n: int, seed: int) -> str:
    """``n`` lines of 24 random letters: records with nothing to learn but themselves."""
    rng = np.random.default_rng(seed)
    return "".join("".join(rng.choice(LETTERS, 24)) + "\n" for _ in range(n))


def train_lm(out, text_file, steps: int) -> str:
    assert main(["train", "text", "--arch", "gpt", "--data", str(text_file), "--tokenizer", "char",
                 "--context", "32", "--layers", "2", "--heads", "2", "--embed", "64", "--dropout", "0",
                 "--val-fraction", "0.02", "--steps", str(steps), "--batch-size", "32", "--lr", "3e-3",
                 "--seed", "0", "--no-progress", "--out", str(out)]) == 0
    return str(out)


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    root = tmp_path_factory.mktemp("texts")
    for name, seed, n in (("members", 1, 80), ("holdout", 2, 80), ("other", 3, 160)):
        (root / f"{name}.txt").write_text(records(n, seed), encoding="utf-8")
    return root


def test_sequence_losses_are_the_models_token_cross_entropy(texts, tmp_path):
    pipe = aigc.load(train_lm(tmp_path / "lm", texts / "other.txt", 3), device="cpu")
    seqs = read_sequences(str(texts / "members.txt"), pipe.tokenizer, pipe.context)
    assert len(seqs) == 80 and all(len(ids) == 25 for _, ids in seqs)  # 24 letters and the newline
    ids = [s for _, s in seqs[:5]]
    net = pipe.nets["model"]
    with torch.no_grad():
        direct = [float(F.cross_entropy(net(s[None, :-1])[0], s[1:])) for s in ids]
    assert np.allclose(sequence_losses(pipe.objective, pipe.nets, ids), direct, atol=1e-5)
    windows = read_sequences(str(texts / "members.txt"), pipe.tokenizer, pipe.context, unit="window")
    assert [len(w) for _, w in windows][:-1] == [33] * (len(windows) - 1)  # context + 1 tokens


def _audit(model: str, texts, tmp_path, capsys) -> dict:
    out = tmp_path / "privacy.json"
    capsys.readouterr()
    assert main(["audit", "privacy", model, "--data", str(texts / "members.txt"), "--holdout",
                 str(texts / "holdout.txt"), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(out.read_text())
    return json.loads(out.read_text())


def test_auc_is_chance_on_a_model_that_never_saw_the_members(texts, tmp_path, capsys):
    report = _audit(train_lm(tmp_path / "lm", texts / "other.txt", 150), texts, tmp_path, capsys)
    assert report["n"] == [80, 80]
    for attack in ("loss_threshold", "zlib_calibrated"):
        assert abs(report[attack]["auc"] - 0.5) < 0.12, (attack, report)
    assert abs(report["likelihood_ratio"]["auc"] - 0.5) < 0.2, report  # scored on half of each set


def test_auc_is_high_on_a_model_that_memorised_the_members(texts, tmp_path, capsys):
    report = _audit(train_lm(tmp_path / "lm", texts / "members.txt", 250), texts, tmp_path, capsys)
    assert report["mean_loss_members"] < report["mean_loss_holdout"] - 0.5, report
    assert report["loss_threshold"]["auc"] > 0.9 and report["zlib_calibrated"]["auc"] > 0.9, report
    assert report["likelihood_ratio"]["auc"] > 0.75 and report["loss_threshold"]["tpr_at_1pct_fpr"] > 0.2, report


def test_bad_text_files_are_named(texts, tmp_path):
    pipe = aigc.load(train_lm(tmp_path / "lm", texts / "other.txt", 2), device="cpu")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(BadInputError, match="latin1.txt: not UTF-8"):
        read_sequences(str(tmp_path / "latin1.txt"), pipe.tokenizer, pipe.context)
    with pytest.raises(BadInputError, match="missing.txt: no such text file"):
        read_sequences(str(tmp_path / "missing.txt"), pipe.tokenizer, pipe.context)
