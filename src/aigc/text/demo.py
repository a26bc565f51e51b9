"""The demo's text model: a small char-level GPT on a text that ships with Python."""

from __future__ import annotations

import os
from typing import Any

from aigc.text.train import TextSettings, train
from aigc.train import TrainConfig

__all__ = ["train_demo_text"]

DEMO_MODEL = {"context": 64, "layers": 2, "heads": 4, "embed": 64, "dropout": 0.0}


def train_demo_text(out_dir: str | os.PathLike, steps: int = 300, seed: int = 0, *,
                    device: str = "auto", progress: bool = False) -> dict[str, Any]:
    """Train a char GPT on :func:`~aigc.text.corpus.demo_corpus` into ``out_dir``.

    Returns the training summary plus ``val_loss`` and ``sample`` (150 characters from the
    trained model, seed ``seed``).
    """
    import aigc

    spec = TextSettings(data="builtin:pydoc", arch="gpt", tokenizer="char", **DEMO_MODEL)
    config = TrainConfig(steps=steps, batch_size=32, lr=2e-3, schedule="cosine",
                        warmup_steps=min(50, steps // 10), grad_clip=1.0, seed=seed, device=device,
                        progress=progress, checkpoint_every=max(1, steps), log_every=10)
    summary = train(spec, config, out_dir)
    pipe = aigc.load(str(out_dir), device=device)
    summary["sample"] = pipe.generate("The ", max_tokens=150, top_k=20, seed=seed)
    summary["model_id"] = pipe.model_id
    return summary
