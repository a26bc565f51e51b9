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
