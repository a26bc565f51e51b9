"""Robustness audit of any classifier model directory: clean and robust accuracy, the eps-accuracy
curve and pictures of adversarial examples beside their originals.

A model is a classifier when its objective has the :class:`aigc.train.objective.Classifies`
capability; nothing here knows which task made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.core.seed import make_generator
from aigc.tools.robust.attacks import run_attack

__all__ = [
    "audit_robustness",
    "labelled_examples",
    "labelled_images",
    "labelled_waves",
    "load_classifier",
    "robust_accuracy",
    "save_curve",
    "save_examples",
]


def load_classifier(model_dir: str, device: str = "cpu", *, pipe: Any = None) -> tuple[Any, Any]:
    """``(pipeline, f)`` where ``f(x) -> logits`` runs the model's networks in eval mode (``pipe``:
    the model already loaded)."""
    import aigc
    from aigc.train.objective import Classifies

    pipe = pipe if pipe is not None else aigc.load(model_dir, device=device)
    if not isinstance(pipe.objective, Classifies):
        raise BadInputError(f"{model_dir}: a {pipe.task} {pipe.architecture!r} model is not a classifier "
                            "(its objective has no Classifies capability: input_key, label_key, logits)")
    for net in pipe.nets.values():
        net.eval()
    return pipe, lambda x: pipe.objective.logits(pipe.nets, x)


def labelled_images(pipe: Any, source: str | None, split: str, n: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(x (N, C, S, S) in [0, 1], y (N,)) from an image source, at the model's input shape; a
    seeded random subset of ``n`` when given."""
    from aigc.data.images import load_image_source
    from aigc.data.transforms import resize

    cfg = pipe.objective.config
    if not all(hasattr(cfg, k) for k in ("channels", "image_size")):
        raise BadInputError(f"{pipe.source}: the model's config has no image shape (channels, image_size)")
    source = source or pipe.config.get("data", {}).get("source")
    if not source:
        raise BadInputError(f"{pipe.source}: config.json names no data source; pass --data")
    data = load_image_source(source, split=split, channels=cfg.channels)
    if data.labels is None:
        raise BadInputError(f"--data {source}: the images have no labels")
    x = data.images if data.images.shape[-1] == cfg.image_size else resize(data.images, cfg.image_size)
    y = data.labels
    if n is not None and n < len(x):
        idx = torch.randperm(len(x), generator=make_generator(seed))[:n]
        x, y = x[idx], y[idx]
    return x.contiguous(), y


def labelled_waves(pipe: Any, source: str | None, split: str, n: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(x (N, clip_samples) waves in [-1, 1], y (N,)) from an audio source (``fsdd``,
    ``folder:PATH``) at the model's sample rate, centred in its clip; a seeded subset of ``n``."""
    from aigc.data.audio import load_audio_source

    cfg = pipe.objective.config
    source = source or pipe.config.get("data", {}).get("source")
    if not source:
        raise BadInputError(f"{pipe.source}: config.json names no data source; pass --data")
    data = load_audio_source(source, split=split, sr=cfg.sample_rate)
    if data.labels is None:
        raise BadInputError(f"--data {source}: the clips have no labels (put each class in its own sub-folder)")
    x, y = data.batch(cfg.clip_samples).clamp(-1, 1), data.labels
    if n is not None and n < len(x):
        idx = torch.randperm(len(x), generator=make_generator(seed))[:n]
        x, y = x[idx], y[idx]
    return x.contiguous(), y


def labelled_examples(pipe: Any, source: str | None, split: str, n: int | None,
                      seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, tuple[float, float]]:
    """(x, y, input bounds) at the classifier's input convention, read from its config: images
    (``channels``, ``image_size``) in [0, 1], or waves (``sample_rate``, ``clip_samples``) in [-1, 1]."""
    from aigc.tools.robust.attacks import input_bounds

    bounds = input_bounds(pipe.objective)
    load = labelled_waves if bounds == (-1.0, 1.0) else labelled_images
    return (*load(pipe, source, split, n, seed), bounds)


def robust_accuracy(f: Any, x: torch.Tensor, y: torch.Tensor, *, attack: str, eps: float, norm: str = "linf",
                    restarts: int = 1, seed: int = 0, batch_size: int = 500, device: torch.device | str = "cpu",
                    bounds: tuple[float, float] = (0.0, 1.0)) -> tuple[float, torch.Tensor]:
    """(accuracy under the attack, the adversarial inputs), batch by batch, seeded."""
    g = make_generator(seed, device)
    correct, advs = 0, []
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        xb, yb = xb.to(device), yb.to(device)
        adv = run_attack(f, xb, yb, attack=attack, eps=eps, norm=norm, restarts=restarts, generator=g, bounds=bounds)
        with torch.no_grad():
            correct += int((f(adv).argmax(1) == yb).sum())
        advs.append(adv.cpu())
    return correct / len(x), torch.cat(advs)


def audit_robustness(f: Any, x: torch.Tensor, y: torch.Tensor, *, attack: str, eps: float,
                     curve: Sequence[float] = (), norm: str = "linf", restarts: int = 1, seed: int = 0,
                     device: torch.device | str = "cpu",
                     bounds: tuple[float, float] = (0.0, 1.0)) -> tuple[dict[str, Any], torch.Tensor]:
    """The report (clean and robust accuracy, the curve) and the adversarial images at ``eps``."""
    with torch.no_grad():
        clean = float(sum(int((f(xb.to(device)).argmax(1).cpu() == yb).sum())
                          for xb, yb in zip(x.split(500), y.split(500))) / len(x))
    robust, adv = robust_accuracy(f, x, y, attack=attack, eps=eps, norm=norm, restarts=restarts, seed=seed,
                                  device=device, bounds=bounds)
    report: dict[str, Any] = {"n": len(x), "attack": attack, "norm": norm, "eps": eps, "restarts": restarts,
                              "seed": seed, "clean_accuracy": clean, "robust_accuracy": robust}
    if curve:
        report["curve"] = [{"eps": float(e), "accuracy": clean if e == 0 else robust_accuracy(
            f, x, y, attack=attack, eps=float(e), norm=norm, restarts=restarts, seed=seed, device=device,
            bounds=bounds)[0]}
            for e in curve]
    return report, adv


def save_examples(x: torch.Tensor, adv: torch.Tensor, path: str | Path, *, n: int = 8,
                  recipe: dict | None = None) -> Path:
    """Originals (top row), adversarial images (middle) and the perturbation (bottom, 0.5 = none)."""
    from aigc.core.artifacts import make_grid, save_png

    k = min(n, len(x))
    delta = adv[:k] - x[:k]
    scale = float(delta.abs().max().clamp_min(1e-8))
    rows = torch.cat([x[:k], adv[:k], (0.5 + 0.5 * delta / scale).clamp(0, 1)])
    return save_png(path, make_grid(rows, nrow=k), recipe, scale_to=512)


def save_curve(curve: Sequence[dict], path: str | Path, title: str = "") -> Path:
    """The eps-accuracy curve as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aigc.core.atomic import atomic_path

    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot([c["eps"] for c in curve], [c["accuracy"] for c in curve], "o-")
    ax.set_xlabel("eps")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(path)
