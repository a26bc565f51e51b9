"""A tiny char GPT trained once per session, shared by the compression tests."""

from __future__ import annotations

import pytest

from aigc.cli import main

TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age "
        "of foolishness, it was the epoch of belief, it was the epoch of incredulity. ") * 8


@pytest.fixture(scope="session")
def text_model(tmp_path_factory):
    """(model directory, held-out text file) of a 2-layer char GPT trained 30 steps on TEXT."""
    root = tmp_path_factory.mktemp("gpt")
    (root / "train.txt").write_text(TEXT, encoding="utf-8")
    (root / "val.txt").write_text(TEXT[:400], encoding="utf-8")
    out = root / "model"
    assert main(["train", "text", "--arch", "gpt", "--data", str(root / "train.txt"), "--tokenizer", "char",
                 "--context", "32", "--layers", "2", "--heads", "2", "--embed", "64", "--steps", "30",
                 "--batch-size", "8", "--lr", "3e-3", "--no-progress", "--out", str(out)]) == 0
    return out, root / "val.txt"
