"""Helpers shared by tests: a toy objective and its data."""

from __future__ import annotations

import torch
from torch import nn


class LinearRegression:
    """A deterministic objective: y = x @ w, MSE. Plain SGD so updates are easy to reason about."""

    config = None

    def __init__(self, dim: int = 4, seed: int = 0, optimizer: str = "sgd") -> None:
        g = torch.Generator().manual_seed(seed)
        self.net = nn.Linear(dim, 1)
        with torch.no_grad():
            self.net.weight.copy_(torch.randn(1, dim, generator=g))
            self.net.bias.zero_()
        self.optimizer = optimizer

    def networks(self):
        return {"net": self.net}

    def configure_optimizers(self, nets, lr):
        cls = torch.optim.SGD if self.optimizer == "sgd" else torch.optim.Adam
        return {"opt": cls(nets["net"].parameters(), lr=lr)}

    def training_step(self, nets, batch, ctx):
        pred = nets["net"](batch["x"]).squeeze(1)
        return {"loss": ((pred - batch["y"]) ** 2).mean()}


def regression_data(n: int = 64, dim: int = 4, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    w = torch.arange(1, dim + 1, dtype=torch.float32)
    return {"x": x, "y": x @ w + 0.5}


def write_tones(folder, per_label: int = 8) -> None:
    """A labelled folder of 8 kHz clips: label "0" = tones near 300 Hz, "1" = near 1500 Hz, each with
    a little seeded noise and 50 ms of silence on both sides."""
    import numpy as np

    from aigc.data.audio import write_audio

    rng = np.random.default_rng(0)
    t = np.arange(2400) / 8000
    for label, base in (("0", 300.0), ("1", 1500.0)):
        for i in range(per_label):
            wave = (0.3 + 0.05 * i) * np.sin(2 * np.pi * base * (1 + 0.05 * i) * t) + 0.01 * rng.standard_normal(2400)
            write_audio(folder / label / f"clip{i}.wav", np.pad(wave.astype(np.float32), (400, 400)), 8000)


def demo_ok(out, seed=0):
    """A task demo for the demo runner's tests: writes one file, returns a section."""
    from pathlib import Path

    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "seed.txt").write_text(str(seed))
    return {"title": f"ok {Path(out).name}", "html": "<a href='seed.txt'>seed</a>", "figures": {"seed": seed}}


def demo_fails(out, seed=0):
    """A task demo that fails the way a bad input does."""
    from aigc.core.errors import BadInputError

    raise BadInputError("no data for this demo")
