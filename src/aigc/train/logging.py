"""The JSONL metrics log and preview sample grids written during training."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import torch

from aigc.core.artifacts import make_grid, save_png
from aigc.core.atomic import atomic_write_bytes

__all__ = ["MetricsLog", "save_preview"]


class MetricsLog:
    """Appends one JSON object per line; on resume, lines past the resumed step are dropped."""

    def __init__(self, path: Path, *, enabled: bool = True) -> None:
        self.path, self.enabled = path, enabled

    def truncate_after(self, step: int) -> None:
        if not self.enabled or not self.path.is_file():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        kept = [ln for ln in lines if ln.strip() and _step_of(ln) <= step]
        if len(kept) != len(lines):
            atomic_write_bytes(self.path, ("\n".join(kept) + "\n" if kept else "").encode())

    def write(self, record: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(dict(record)) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return 1 << 62  # an unreadable line (torn write) is dropped


def save_preview(images: torch.Tensor, folder: Path, step: int) -> Path:
    """Save a (N, C, H, W) batch in [0, 1] as ``folder/step-XXXXXXXX.png`` and ``latest.png``."""
    grid = make_grid(images)
    path = folder / f"step-{step:08d}.png"
    save_png(path, grid, {"step": step}, scale_to=256)
    save_png(folder / "latest.png", grid, {"step": step}, scale_to=256)
    return path
