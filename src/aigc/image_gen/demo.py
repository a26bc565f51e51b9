"""The demo's image part: a DCGAN and a VAE trained on scikit-learn's digits (embedded, no
download), their samples judged by an independent classifier."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

__all__ = ["run", "IMAGE_SIZE", "IMAGE_MODELS"]

IMAGE_SIZE = 16
# (architecture, steps at scale 1, learning rate, extra model settings)
IMAGE_MODELS = [
    # a narrower D and one-sided label smoothing keep D from memorising the 1,617 training digits
    ("dcgan", 2500, 2e-4, {"g_features": 128, "d_features": 64, "latent_dim": 32, "real_label": 0.9}),
    ("vae", 1500, 1e-3, {"features": 128, "latent_dim": 16}),
]


def _digit_classifier():
    """Logistic regression on scikit-learn's 8x8 digits: an independent judge of generated digits."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    d = load_digits()
    n = int(len(d.images) * 0.9)  # fit on the training split only; report held-out accuracy
    clf = LogisticRegression(max_iter=2000).fit(d.data[:n] / 16.0, d.target[:n])
    return clf, float(clf.score(d.data[n:] / 16.0, d.target[n:]))


def _coverage(images, clf) -> dict[str, Any]:
    import torch

    from aigc.data.transforms import resize
    from aigc.metrics import class_coverage

    small = resize(images, 8).flatten(1).numpy()
    stats = class_coverage(torch.from_numpy(clf.predict(small)), 10)
    return {k: (v.tolist() if torch.is_tensor(v) else v) for k, v in stats.items()}


def _train(arch: str, steps: int, lr: float, extra: dict, out: Path, seed: int) -> dict:
    from aigc.image_gen.train import ImageGenSettings, train
    from aigc.train import TrainConfig

    settings = ImageGenSettings(arch=arch, data="digits", image_size=IMAGE_SIZE, channels=1, model=dict(extra))
    cfg = TrainConfig(steps=steps, batch_size=64, lr=lr, seed=seed, ema_decay=0.99 if arch == "dcgan" else None,
                      checkpoint_every=max(1, steps // 3), sample_every=max(1, steps // 3), log_every=10,
                      progress=False)
    return train(settings, cfg, out)


def run(out_dir: Path, seed: int = 0, *, scale: float = 1.0) -> dict[str, Any]:
    """Train the demo's image models into ``out_dir``; returns the report part."""
    import aigc

    out_dir = Path(out_dir)
    clf, clf_acc = _digit_classifier()
    figures: dict[str, Any] = {"judge_accuracy": clf_acc}
    parts = [f"<p>Data: scikit-learn digits resized to {IMAGE_SIZE}&times;{IMAGE_SIZE}. Generated digits "
             f"are judged by a logistic regression on 8&times;8 digits (held-out accuracy {clf_acc:.1%}).</p>"]
    for arch, steps, lr, extra in IMAGE_MODELS:
        summary = _train(arch, max(2, int(steps * scale)), lr, extra, out_dir / arch, seed)
        pipe = aigc.load(str(out_dir / arch), device="cpu")
        samples = pipe.generate(100, seed=seed)
        pipe.save(samples, out_dir / f"{arch}_samples.png", seed=seed, n=100)
        cov = _coverage(samples, clf)
        figures[arch] = {"steps": summary["step"], "seconds": round(summary["seconds"], 1),
                         "final": summary["logs"], "model_id": pipe.model_id, "coverage": cov}
        rows = {"steps": summary["step"], "training time": f"{summary['seconds']:.1f} s", "model id": pipe.model_id,
                **{k: f"{v:.4g}" for k, v in summary["logs"].items()},
                "classes covered": f"{cov['modes_covered']} / 10",
                "class KL to uniform": f"{cov['kl_to_uniform']:.3f} nats",
                "class histogram": " ".join(str(c) for c in cov["histogram"])}
        parts.append(f"<h3>{arch}</h3><table>" + "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows.items())
            + "</table>")
        parts.append(f"<p><img src='{arch}_samples.png' alt='{arch} samples' width='400'> "
                     f"<img src='{arch}/logs/curves.png' alt='{arch} loss curves' width='400'></p>")
    return {"title": "Images: DCGAN and VAE on digits", "html": "\n".join(parts), "figures": figures}
