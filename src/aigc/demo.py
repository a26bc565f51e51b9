"""The main job (``make demo``): train a DCGAN, a VAE and a small text model on embedded data.

Writes ``runs/demo/`` with one model directory per model, sample grids, loss curves (PNG), the
class coverage of the image samples (by an independent classifier) and ``report.html``.

    python -m aigc.demo [--out runs/demo] [--scale 1.0] [--seed 0]
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from aigc.core.atomic import atomic_write_bytes, atomic_write_json
from aigc.core.errors import AigcError

__all__ = ["main", "run_demo"]

IMAGE_SIZE = 16
# (architecture, steps at scale 1, learning rate, extra model settings)
IMAGE_MODELS = [
    # a narrower D and one-sided label smoothing keep D from memorising the 1,617 training digits
    ("dcgan", 2500, 2e-4, {"g_features": 128, "d_features": 64, "latent_dim": 32, "real_label": 0.9}),
    ("vae", 1500, 1e-3, {"features": 128, "latent_dim": 16}),
]
TEXT_STEPS = 1500


def _digit_classifier():
    """Logistic regression on scikit-learn's 8x8 digits: an independent judge of generated digits."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    d = load_digits()
    n = int(len(d.images) * 0.9)  # fit on the training split only; report held-out accuracy
    clf = LogisticRegression(max_iter=2000).fit(d.data[:n] / 16.0, d.target[:n])
    return clf, float(clf.score(d.data[n:] / 16.0, d.target[n:]))


def _coverage(images: torch.Tensor, clf) -> dict[str, Any]:
    from aigc.data.transforms import resize
    from aigc.metrics import class_coverage

    small = resize(images, 8).flatten(1).numpy()
    stats = class_coverage(torch.from_numpy(clf.predict(small)), 10)
    return {k: (v.tolist() if torch.is_tensor(v) else v) for k, v in stats.items()}


def _train_image_model(arch: str, steps: int, lr: float, extra: dict, out: Path, data, seed: int) -> dict:
    from aigc.core.registry import architecture
    from aigc.core.seed import seed_everything
    from aigc.train import TrainConfig, Trainer
    from aigc.train.report import plot_metrics

    cls = architecture("image-gen", arch)
    seed_everything(seed)
    objective = cls(cls.config_class(image_size=IMAGE_SIZE, channels=1, **extra))
    cfg = TrainConfig(steps=steps, batch_size=64, lr=lr, seed=seed, ema_decay=0.99 if arch == "dcgan" else None,
                      checkpoint_every=max(1, steps // 3), sample_every=max(1, steps // 3), log_every=10)
    meta = {"task": "image-gen", "architecture": arch, "data": data.spec()}
    summary = Trainer(objective, cfg, out, meta=meta).fit({"images": data.images})
    plot_metrics(out)
    return summary


def run_demo(out: Path, scale: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """Train every demo model into ``out`` and write the report; returns the report dict."""
    import aigc
    from aigc.data.images import load_image_source

    out.mkdir(parents=True, exist_ok=True)
    data = load_image_source("digits", split="train", image_size=IMAGE_SIZE)
    clf, clf_acc = _digit_classifier()
    report: dict[str, Any] = {"data": data.spec(), "seed": seed, "models": {},
                              "judge": {"model": "logistic regression on 8x8 digits", "test_accuracy": clf_acc}}
    for arch, steps, lr, extra in IMAGE_MODELS:
        n_steps = max(2, int(steps * scale))
        print(f"[demo] training {arch} for {n_steps} steps on digits ...", flush=True)
        summary = _train_image_model(arch, n_steps, lr, extra, out / arch, data, seed)
        pipe = aigc.load(str(out / arch), device="cpu")
        samples = pipe.generate(100, seed=seed)
        pipe.save(samples, out / f"{arch}_samples.png", seed=seed, n=100)
        report["models"][arch] = {"steps": summary["step"], "seconds": round(summary["seconds"], 1),
                                  "final": summary["logs"], "model_id": pipe.model_id,
                                  "coverage": _coverage(samples, clf),
                                  "samples": f"{arch}_samples.png", "curves": f"{arch}/logs/curves.png"}
    report["models"]["text"] = _text_model(out / "text", scale, seed)
    atomic_write_json(out / "report.json", report)
    atomic_write_bytes(out / "report.html", _html(report).encode("utf-8"))
    return report


def _text_model(out: Path, scale: float, seed: int) -> dict[str, Any]:
    from aigc.text.demo import train_demo_text
    from aigc.train.report import plot_metrics

    n_steps = max(2, int(TEXT_STEPS * scale))
    print(f"[demo] training a character GPT for {n_steps} steps on Python's bundled docs ...", flush=True)
    summary = train_demo_text(out, steps=n_steps, seed=seed, device="cpu")
    plot_metrics(out)
    return {"steps": summary["step"], "seconds": round(summary["seconds"], 1), "final": summary["logs"],
            "model_id": summary["model_id"], "val_loss": summary.get("val_loss"), "sample": summary["sample"],
            "curves": "text/logs/curves.png"}


def _html(report: dict[str, Any]) -> str:
    parts = ["<!doctype html><meta charset='utf-8'><title>aigc demo</title>",
             "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}img{image-rendering:pixelated;"
             "max-width:100%}td,th{padding:2px 8px;text-align:left}pre{white-space:pre-wrap;background:#f4f4f4;"
             "padding:1em}</style>",
             "<h1>aigc demo</h1>",
             f"<p>Data: scikit-learn digits, {report['data']['n']} training images resized to "
             f"{IMAGE_SIZE}&times;{IMAGE_SIZE}. Seed {report['seed']}. Generated digits are judged by a "
             f"{html.escape(report['judge']['model'])} (held-out accuracy "
             f"{report['judge']['test_accuracy']:.1%}).</p>"]
    for name, m in report["models"].items():
        parts.append(f"<h2>{html.escape(name)}</h2><table>")
        rows = {"steps": m["steps"], "training time": f"{m['seconds']} s", "model id": m["model_id"],
                **{k: f"{v:.4g}" for k, v in m["final"].items()}}
        if "coverage" in m:
            cov = m["coverage"]
            rows["classes covered"] = f"{cov['modes_covered']} / 10"
            rows["class KL to uniform"] = f"{cov['kl_to_uniform']:.3f} nats"
            rows["class histogram"] = " ".join(str(c) for c in cov["histogram"])
        if m.get("val_loss") is not None:
            rows["validation loss"] = f"{m['val_loss']:.4f}"
        parts += [f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows.items()]
        parts.append("</table>")
        if "samples" in m:
            parts.append(f"<p><img src='{m['samples']}' alt='{name} samples' width='400'></p>")
        if "sample" in m:
            parts.append(f"<pre>{html.escape(m['sample'])}</pre>")
        parts.append(f"<p><img src='{m['curves']}' alt='{name} loss curves'></p>")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aigc.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every model's steps (e.g. 0.1 for a quick look)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if not 0 < args.scale <= 100:
        print("demo: --scale must be in (0, 100]", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        report = run_demo(Path(args.out), args.scale, args.seed)
    except AigcError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: {"coverage": v.get("coverage", {}).get("modes_covered"), "seconds": v["seconds"]}
                      for k, v in report["models"].items()}))
    print(f"[demo] done in {time.perf_counter() - start:.0f}s: open {Path(args.out) / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
