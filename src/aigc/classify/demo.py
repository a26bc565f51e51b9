"""The demo's classifier part: a CNN on scikit-learn's digits, scored on the held-out split."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

__all__ = ["run"]


def run(out_dir: Path, seed: int = 0, *, scale: float = 1.0) -> dict[str, Any]:
    """Train a digits classifier into ``out_dir`` and report its held-out accuracy."""
    import aigc
    from aigc.classify.train import ClassifySettings, load_data, train
    from aigc.train import TrainConfig

    out_dir = Path(out_dir)
    steps = max(2, int(400 * scale))
    cfg = TrainConfig(steps=steps, batch_size=64, lr=2e-3, seed=seed, checkpoint_every=steps,
                      log_every=10, progress=False)
    summary = train(ClassifySettings(data="digits"), cfg, out_dir / "cnn")
    pipe = aigc.load(str(out_dir / "cnn"), device="cpu")
    test = load_data("digits", split="test", image_size=8, channels=1)
    scores = pipe.evaluate(test.images, test.labels)
    rows = {"steps": summary["step"], "training time": f"{summary['seconds']:.1f} s", "model id": pipe.model_id,
            "held-out accuracy": f"{scores['accuracy']:.1%} of {scores['n']}", "held-out NLL": f"{scores['nll']:.3f}"}
    table = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows.items())
    return {"title": "Classifier: a CNN on digits", "html": f"<table>{table}</table>",
            "figures": {"accuracy": scores["accuracy"], "nll": scores["nll"], "steps": summary["step"]}}
