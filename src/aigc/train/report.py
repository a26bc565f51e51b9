"""Loss curves as PNG from a model directory's JSONL metrics log."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from aigc.core.atomic import atomic_path
from aigc.train.trainer import read_metrics

__all__ = ["plot_metrics", "report_training"]


def plot_metrics(out_dir: str | Path, keys: Iterable[str] | None = None, dest: str | Path | None = None) -> Path | None:
    """Plot every logged value (or ``keys``) against step into ``logs/curves.png``."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; set here, at the plotting call, not at import
    import matplotlib.pyplot as plt

    rows = read_metrics(out_dir)
    if not rows:
        return None
    names = list(keys) if keys else [k for k in rows[-1] if k not in ("step", "lr")]
    fig, axes = plt.subplots(len(names), 1, figsize=(6, 1.8 * len(names) + 0.6), sharex=True, squeeze=False)
    steps = [r["step"] for r in rows]
    for ax, name in zip(axes[:, 0], names):
        ax.plot(steps, [r.get(name, float("nan")) for r in rows], lw=1)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    dest = Path(dest) if dest else Path(out_dir) / "logs" / "curves.png"
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return dest


def report_training(summary: dict, name: str, out_dir: str | Path, *, extra: str = "") -> None:
    """After ``Trainer.fit``: plot the curves and print one line of what was trained."""
    plot_metrics(out_dir)
    logs = ", ".join(f"{k}={v:.4g}" for k, v in summary["logs"].items())
    stopped = f", stopped by the {summary['stopped']}" if summary.get("stopped") else ""
    print(f"trained {name} to step {summary['step']} in {summary['seconds']:.1f}s ({logs}{extra}){stopped}; "
          f"model in {out_dir}")
