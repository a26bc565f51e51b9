"""An LSTM language model (Hochreiter & Schmidhuber 1997; the "AWD-LSTM"-style baseline without
its regularisers): embedding -> stacked LSTM -> linear head, tied when sizes allow (Press & Wolf 2017)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["LSTMConfig", "LSTMLM"]

State = tuple[torch.Tensor, torch.Tensor]


@dataclass(kw_only=True)
class LSTMConfig:
    vocab_size: int = 256
    context: int = 256  # training window length (the model itself is unbounded)
    layers: int = 2
    embed: int = 256  # embedding and hidden size
    dropout: float = 0.0
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.99

    def __post_init__(self) -> None:
        if min(self.vocab_size, self.context, self.layers, self.embed) < 1:
            raise ValueError("vocab_size, context, layers and embed must all be >= 1")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class LSTMLM(nn.Module):
    """Token ids (B, T) and optional state ((L, B, E), (L, B, E)) -> (logits (B, T, V), state)."""

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.embed)
        self.drop = nn.Dropout(config.dropout)
        self.rnn = nn.LSTM(config.embed, config.embed, num_layers=config.layers, batch_first=True,
                           dropout=config.dropout if config.layers > 1 else 0.0)
        self.lm_head = nn.Linear(config.embed, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        nn.init.normal_(self.wte.weight, std=0.02)

    def forward(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        out, state = self.rnn(self.drop(self.wte(idx)), state)
        return self.lm_head(self.drop(out)), state

    def block_parameters(self, k: int) -> list[nn.Parameter]:
        """The embedding and the first ``k`` LSTM layers (what ``--freeze-layers k`` freezes)."""
        params = list(self.wte.parameters())
        return params + [p for n, p in self.rnn.named_parameters()
                         if int(n.rsplit("_l", 1)[1].split("_")[0]) < k]
