"""The polyphonic frame model: an RNN over time steps with a NADE over the 88 keys (RNN-NADE,
Boulanger-Lewandowski, Bengio & Vincent 2012).

The RNN reads the previous steps and sets the biases of a NADE (Larochelle & Murray 2011) that
gives each key's probability *given the keys above it* in the same step, so a chord is modelled
jointly — not as 88 independent sigmoids. Keys go from the top down (Boulanger-Lewandowski went
bottom-up; any order is exact): the melody is decided first, so harmonising a given soprano
conditions every lower key on it. The NADE's conditional logits are exact, so the
framewise NLL of :mod:`aigc.metrics.music` applied to them is the model's log-likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from aigc.core.errors import BadInputError
from aigc.data.music import KEYS
from aigc.metrics.music import frame_nll_sum
from aigc.music.augment import random_transpose_rolls
from aigc.train.objective import NetworksObjective

__all__ = ["FrameConfig", "FrameNADE", "FrameObjective"]



@dataclass(kw_only=True)
class FrameConfig:
    """Model and objective settings (saved in config.json)."""

    rnn: str = "gru"  # "gru" or "lstm"
    hidden: int = 256
    layers: int = 2
    nade_hidden: int = 128
    dropout: float = 0.3
    input_dropout: float = 0.1  # drops keys of the input steps (teacher forcing is brittle)
    transpose: int = 6  # augmentation: random shift in [-transpose, transpose] semitones
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        if self.rnn not in ("gru", "lstm"):
            raise BadInputError(f"rnn must be 'gru' or 'lstm', got {self.rnn!r}")
        if min(self.hidden, self.layers, self.nade_hidden) < 1:
            raise BadInputError("hidden, layers and nade_hidden must be >= 1")


class FrameNADE(nn.Module):
    """``forward(roll)``: ``(B, T, 88)`` 0/1 -> ``(B, T, 88)`` conditional logits of each key given
    the previous steps and the higher keys of its own step."""

    def __init__(self, config: FrameConfig) -> None:
        super().__init__()
        rnn = nn.GRU if config.rnn == "gru" else nn.LSTM
        self.rnn = rnn(KEYS, config.hidden, config.layers, batch_first=True,
                       dropout=config.dropout if config.layers > 1 else 0.0)
        self.drop = nn.Dropout(config.dropout)
        self.input_dropout = config.input_dropout
        self.to_b = nn.Linear(config.hidden, KEYS)  # NADE visible biases
        self.to_c = nn.Linear(config.hidden, config.nade_hidden)  # NADE hidden biases
        self.w = nn.Parameter(torch.randn(KEYS, config.nade_hidden) * 0.05)  # key -> hidden
        self.v = nn.Parameter(torch.randn(KEYS, config.nade_hidden) * 0.05)  # hidden -> key

    def context(self, roll: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """RNN over the *previous* steps: ``(B, T, 88)`` -> hidden ``(B, T, H)`` for predicting
        steps 0..T-1 (step 0 sees a silent step), and the state after step T-1."""
        prev = torch.cat([roll.new_zeros(roll.shape[0], 1, KEYS), roll[:, :-1]], dim=1)
        return self.step(prev, state)

    def step(self, inputs: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """RNN on given input steps ``(B, T, 88)`` -> ``(B, T, H)``, new state."""
        if self.training and self.input_dropout:
            keep = torch.rand_like(inputs) >= self.input_dropout
            inputs = inputs * keep
        out, state = self.rnn(inputs.float(), state)
        return self.drop(out), state

    def biases(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.to_b(hidden), self.to_c(hidden)

    def nade_logits(self, hidden: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
        """Teacher-forced NADE: logit_i = b_i + V_i . sigmoid(c + sum_{j>i} W_j x_j)."""
        b, c = self.biases(hidden)
        # sum_{j>i} x_j W_j for every i as one matmul with a triangular weight (twice as fast on
        # CPU as a cumulative sum over (B, T, 88, Hn))
        above = torch.ones(KEYS, KEYS, device=roll.device, dtype=self.w.dtype).tril(-1)  # [j, i]: j > i
        w_tri = (above.unsqueeze(-1) * self.w.unsqueeze(1)).reshape(KEYS, -1)  # (88, 88 * Hn)
        acc = (roll.float().reshape(-1, KEYS) @ w_tri).view(*roll.shape, -1)  # (B, T, 88, Hn)
        act = torch.sigmoid(c.unsqueeze(-2) + acc)
        return b + (act * self.v).sum(-1)

    def forward(self, roll: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.context(roll)
        return self.nade_logits(hidden, roll)

    @torch.no_grad()
    def sample_step(self, hidden: torch.Tensor, generator: torch.Generator | None,
                    temperature: float = 1.0, fixed: torch.Tensor | None = None) -> torch.Tensor:
        """Sample one step ``(B, 88)`` key by key, from the top, from hidden ``(B, H)``. ``fixed``
        (B, 88) with values 0/1 forces keys (and -1 leaves them free)."""
        b, c = self.biases(hidden)
        x = torch.zeros_like(b)
        act = c.clone()
        for i in reversed(range(KEYS)):
            logit = b[:, i] + (torch.sigmoid(act) * self.v[i]).sum(-1)
            p = torch.sigmoid(logit / max(temperature, 1e-4))
            xi = (torch.rand(p.shape, generator=generator, device=p.device) < p).float()
            if fixed is not None:
                xi = torch.where(fixed[:, i] >= 0, fixed[:, i].float(), xi)
            x[:, i] = xi
            act = act + xi.unsqueeze(-1) * self.w[i]
        return x


class FrameObjective(NetworksObjective):
    """Framewise NLL (nats per step) of windows ``batch["roll"]`` (B, L, 88), ``batch["mask"]``
    (B, L) = 1 on real steps; random transposition by up to ``config.transpose`` semitones."""

    config_class = FrameConfig
    ema_networks = ("model",)
    default_lr, default_batch_size = 1e-3, 16
    kind = "roll"

    def __init__(self, config: FrameConfig) -> None:
        self.config = config
        self.nets = {"model": FrameNADE(config)}

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        length = int(batch["mask"].sum(1).max())  # no work on the batch's common padding
        roll, mask = batch["roll"][:, :length], batch["mask"][:, :length]
        roll = random_transpose_rolls(roll, self.config.transpose, ctx.generator)
        total, count = frame_nll_sum(nets["model"](roll), roll, mask)
        return {"loss": total / count.clamp(min=1)}

    @torch.no_grad()
    def logits(self, nets: Mapping[str, nn.Module], roll: torch.Tensor) -> torch.Tensor:
        """Conditional logits ``(B, T, 88)`` of whole pieces (for the NLL metric)."""
        return nets["model"](roll)
