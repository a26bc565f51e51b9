"""The demo's text model: a small char-level GPT on a text that ships with Python."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aigc.text.train import TextSettings, train
from aigc.train import TrainConfig

__all__ = ["train_demo_text", "run"]

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


DEMO_STEPS = 1500


def run(out_dir: Path, seed: int = 0, *, scale: float = 1.0) -> dict[str, Any]:
    """The demo's text part: a character GPT on Python's bundled docs; returns the report part."""
    import html

    from aigc.train.report import plot_metrics

    summary = train_demo_text(out_dir, steps=max(2, int(DEMO_STEPS * scale)), seed=seed, device="cpu")
    plot_metrics(out_dir)
    figures = {"steps": summary["step"], "seconds": round(summary["seconds"], 1), "final": summary["logs"],
               "model_id": summary["model_id"], "val_loss": summary.get("val_loss")}
    val = f"{summary['val_loss']:.3f} nats/char" if summary.get("val_loss") is not None else "n/a"
    body = (f"<p>{summary['step']} steps in {summary['seconds']:.1f} s, validation loss {val}, model id "
            f"{summary['model_id']}. A sample (seed {seed}, top-k 20):</p>"
            f"<pre>{html.escape(summary['sample'])}</pre>"
            "<p><img src='logs/curves.png' alt='text loss curves' width='400'></p>")
    return {"title": "Text: a character GPT on Python's documentation", "html": body, "figures": figures}
