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

__all__ = ["FrameConfig", "FrameNADE", "FrameObjective", "random_crops"]



@dataclass(kw_only=True)
class FrameConfig:
    """Model and objective settings (saved in config.json; keys missing from an older config take
    these defaults).

    Measured on JSB quarter notes, one CPU thread, 200 CPU-s per run, cosine decay to the budget
    end (validation NLL, nats per step; benchmarks/music_jsb.py has the full-budget figure):
    whole pieces at lr 1e-3 7.21, at lr 3e-3 5.98; random 32-step crops (``crop=32``, 3x cheaper
    steps) at lr 3e-3 5.53, at lr 5e-3 5.33 (the defaults); hidden 384 was no better per step and
    slower; an EMA of the weights did not help once the learning rate decays. Starting the NADE's
    visible biases at the keys' log-odds (``marginal_init``) removes the slow first phase.
    """

    rnn: str = "gru"  # "gru" or "lstm"
    hidden: int = 256
    layers: int = 2
    nade_hidden: int = 128
    dropout: float = 0.3
    input_dropout: float = 0.1  # drops keys of the input steps (teacher forcing is brittle)
    transpose: int = 6  # augmentation: random shift in [-transpose, transpose] semitones
    weight_decay: float = 1e-4
    crop: int = 32  # train on random crops of this many steps of each window (0 = whole windows)
    marginal_init: bool = True  # NADE visible biases start at the training keys' log-odds

    def __post_init__(self) -> None:
        if self.rnn not in ("gru", "lstm"):
            raise BadInputError(f"rnn must be 'gru' or 'lstm', got {self.rnn!r}")
        if min(self.hidden, self.layers, self.nade_hidden) < 1:
            raise BadInputError("hidden, layers and nade_hidden must be >= 1")
        if self.crop < 0:
            raise BadInputError(f"crop must be >= 0 steps (0 = whole windows), got {self.crop}")


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
        """Teacher-forced NADE: logit_i = b_i + V_i . sigmoid(c + sum_{j>i} W_j x_j).

        A step holds a few notes, so ``sum_{j>i} W_j x_j`` takes only ``k + 1`` values over the 88
        keys (``k`` = notes sounding): after 0, 1, ..., k of the step's notes, counted from the top.
        The sigmoid runs on those ``k + 1`` hidden vectors and one matmul with V gives each of them
        every key's logit; key i reads the one of its segment. Exact, and ~10x cheaper on CPU than
        the (B, T, 88, Hn) tensor of :meth:`nade_logits_dense` (the reference the tests use).
        """
        b, c = self.biases(hidden)
        x = roll.to(b.dtype).reshape(-1, KEYS)  # (N, 88)
        n_max = max(int(x.sum(-1).max()) if x.numel() else 0, 1)
        order = x * torch.arange(1, KEYS + 1, device=x.device, dtype=x.dtype)  # 0 off, key + 1 on
        top, keys = order.topk(n_max, dim=-1)  # sounding keys from the top; 0 where fewer sound
        w_on = self.w[keys] * (top > 0).unsqueeze(-1).to(b.dtype)  # (N, n_max, Hn)
        acc = torch.cat([w_on.new_zeros(x.shape[0], 1, w_on.shape[-1]), w_on.cumsum(1)], 1)
        act = torch.sigmoid(c.reshape(-1, 1, c.shape[-1]) + acc)  # (N, n_max + 1, Hn)
        per_segment = act @ self.v.t()  # (N, n_max + 1, 88)
        above = x.flip(-1).cumsum(-1).flip(-1) - x  # notes strictly above each key
        out = per_segment.gather(1, above.long().unsqueeze(1)).squeeze(1)
        return b + out.view(b.shape)

    def nade_logits_dense(self, hidden: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
        """:meth:`nade_logits` written out over every (key, hidden unit) pair."""
        b, c = self.biases(hidden)
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


def random_crops(roll: torch.Tensor, mask: torch.Tensor, length: int,
                 generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``length`` consecutive steps of each row ``(B, T, 88)``, starting uniformly among the starts
    that keep the crop inside the row's real steps (``mask`` (B, T), 1 on real steps then 0); rows
    no longer than ``length`` keep all their steps. ``length`` 0 (or >= T) returns the inputs."""
    if not length or length >= roll.shape[1]:
        return roll, mask
    real = mask.sum(1).long()
    room = (real - length + 1).clamp(min=1)
    start = (torch.rand(real.shape, generator=generator, device=roll.device) * room).long().clamp(max=room - 1)
    idx = start[:, None] + torch.arange(length, device=roll.device)
    return (torch.gather(roll, 1, idx[..., None].expand(-1, -1, roll.shape[-1])),
            torch.gather(mask, 1, idx))


class FrameObjective(NetworksObjective):
    """Framewise NLL (nats per step) of windows ``batch["roll"]`` (B, L, 88), ``batch["mask"]``
    (B, L) = 1 on real steps; random transposition by up to ``config.transpose`` semitones."""

    config_class = FrameConfig
    ema_networks = ("model",)
    default_lr, default_batch_size = 5e-3, 16
    kind = "roll"

    def __init__(self, config: FrameConfig) -> None:
        self.config = config
        self.nets = {"model": FrameNADE(config)}

    @torch.no_grad()
    def init_from_data(self, data: Mapping[str, torch.Tensor]) -> None:
        """With ``config.marginal_init``, set the NADE's visible biases to the log-odds of each key
        being on in the training steps, averaged over the transpositions the augmentation draws
        (80 of the 88 keys are almost always off: the first steps no longer learn that)."""
        if not self.config.marginal_init:
            return
        roll, mask = data["roll"].float(), data["mask"].float()
        on = (roll * mask.unsqueeze(-1)).sum((0, 1))  # (88,)
        steps = float(mask.sum())
        shift = self.config.transpose
        spread = torch.nn.functional.conv1d(on.view(1, 1, -1), torch.ones(1, 1, 2 * shift + 1),
                                            padding=shift).view(-1) / (2 * shift + 1)
        p = (spread + 0.5) / (steps + 1.0)
        self.nets["model"].to_b.bias.copy_(torch.log(p) - torch.log1p(-p))

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        roll, mask = random_crops(batch["roll"], batch["mask"], self.config.crop, ctx.generator)
        length = int(mask.sum(1).max())  # no work on the batch's common padding
        roll, mask = roll[:, :length], mask[:, :length]
        roll = random_transpose_rolls(roll, self.config.transpose, ctx.generator)
        total, count = frame_nll_sum(nets["model"](roll), roll, mask)
        return {"loss": total / count.clamp(min=1)}

    @torch.no_grad()
    def logits(self, nets: Mapping[str, nn.Module], roll: torch.Tensor) -> torch.Tensor:
        """Conditional logits ``(B, T, 88)`` of whole pieces (for the NLL metric)."""
        return nets["model"](roll)
