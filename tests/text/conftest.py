"""Shared fixtures for the text tests: a tiny corpus and one tiny trained char-GPT directory."""

from __future__ import annotations

import pytest

from aigc.text.corpus import Corpus
from aigc.text.train import TextSettings, train
from aigc.train import TrainConfig

TINY_TEXT = ("the quick brown fox jumps over the lazy dog. " * 30
             + "pack my box with five dozen liquor jugs!\n" * 20)
TINY_GPT = {"context": 32, "layers": 2, "heads": 2, "embed": 32}


def tiny_train(steps: int = 30, **changes) -> TrainConfig:
    fields = {"batch_size": 8, "lr": 3e-3, "device": "cpu", "seed": 0, "progress": False,
              "checkpoint_every": 1000, **changes}
    return TrainConfig(steps=steps, **fields)


@pytest.fixture(scope="session")
def make_train():
    """``make_train(steps, **changes)`` -> a tiny CPU TrainConfig."""
    return tiny_train


@pytest.fixture(scope="session")
def tiny_gpt() -> dict:
    return dict(TINY_GPT)


@pytest.fixture(scope="session")
def tiny_corpus() -> Corpus:
    return Corpus("tiny", [TINY_TEXT], "text", ["tiny.txt"])


@pytest.fixture(scope="session")
def gpt_dir(tmp_path_factory, tiny_corpus):
    """A char GPT trained for 40 steps: enough to prefer this text's characters."""
    out = tmp_path_factory.mktemp("text") / "gpt"
    train(TextSettings(data=tiny_corpus, arch="gpt", **TINY_GPT), tiny_train(40), out)
    return out


@pytest.fixture(scope="session")
def gpt_pipe(gpt_dir):
    import aigc

    return aigc.load(str(gpt_dir), device="cpu")
