"""Decoders: the model-specific half of sampling. A decoder turns prompts into next-token logits,
takes one chosen token per row at a time, and can reorder its rows (beam search):

* ``prefill(rows) -> (B, V)`` logits after each prompt (token-id lists of any lengths),
* ``step(tokens (B,)) -> (B, V)`` logits after appending one token per row,
* ``reorder(index (B',))`` keeps rows ``index``.

The sampling strategies in ``aigc.text.sampling`` only see this interface.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from aigc.nn.transformer import causal_mask
from aigc.text.gpt import GPT, FastStep, KVCache, fast_step_ok, new_cache

__all__ = ["GPTDecoder", "LSTMDecoder"]


def _device(net: nn.Module) -> torch.device:
    return next(net.parameters()).device


class GPTDecoder:
    """Batched GPT decoding with left-padded prompts and an optional KV cache.

    Within the context the cache makes each step cost one token. Past the context, the window
    slides (as nanoGPT's ``generate``): every step re-reads the last ``context`` tokens, so cached
    and uncached decoding always compute the same logits.
    """

    def __init__(self, net: GPT, *, use_cache: bool = True) -> None:
        self.net, self.use_cache = net, use_cache
        self.context = net.config.context
        self.cache: KVCache | None = None
        self.fast = FastStep(net) if fast_step_ok(net) else None  # a token without per-module overhead

    def prefill(self, rows: Sequence[Sequence[int]]) -> torch.Tensor:
        width, device = max(len(r) for r in rows), _device(self.net)
        self.tokens = torch.zeros(len(rows), width, dtype=torch.long, device=device)
        self.valid = torch.zeros(len(rows), width, dtype=torch.bool, device=device)
        for i, row in enumerate(rows):  # right-align: the newest tokens share positions' columns
            if row:
                self.tokens[i, width - len(row):] = torch.tensor(list(row), device=device)
                self.valid[i, width - len(row):] = True
        self.padded = not bool(self.valid.all())
        return self._window_forward()

    def _window_forward(self) -> torch.Tensor:
        """Run the last ``context`` tokens from scratch; start a cache when there is room to grow."""
        tokens, valid = self.tokens[:, -self.context:], self.valid[:, -self.context:]
        positions = (valid.long().cumsum(1) - 1).clamp(min=0)
        self.cache = None
        if self.use_cache and self.tokens.shape[1] < self.context:
            p = next(self.net.parameters())
            self.cache = new_cache(self.net.config, len(tokens), p.device, p.dtype)
        key_valid = valid if not bool(valid.all()) else None
        return self.net(tokens, cache=self.cache, positions=positions, key_valid=key_valid, last_only=True)[:, -1]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        self.tokens = torch.cat([self.tokens, tokens[:, None]], dim=1)
        self.valid = torch.cat([self.valid, torch.ones_like(tokens[:, None], dtype=torch.bool)], dim=1)
        if self.cache is None or self.cache.length >= self.context:
            return self._window_forward()
        positions = self.valid.long().sum(1, keepdim=True) - 1
        key_valid = self.valid if self.padded else None
        if self.fast is not None:
            mask = causal_mask(1, self.cache.length, key_valid, tokens.device) if self.padded else None
            return self.fast(tokens[:, None], self.cache, positions, mask)[:, -1]
        return self.net(tokens[:, None], cache=self.cache, positions=positions, key_valid=key_valid)[:, -1]

    def reorder(self, index: torch.Tensor) -> None:
        self.tokens, self.valid = self.tokens[index], self.valid[index]
        if self.cache is not None:
            self.cache.reorder(index)


class LSTMDecoder:
    """Recurrent decoding: the (h, c) state is the cache. Prompts are read one row at a time, so
    rows of different lengths never see padding."""

    def __init__(self, net: nn.Module) -> None:
        self.net = net

    def prefill(self, rows: Sequence[Sequence[int]]) -> torch.Tensor:
        device, logits, hs, cs = _device(self.net), [], [], []
        for row in rows:
            out, (h, c) = self.net(torch.tensor([list(row)], dtype=torch.long, device=device))
            logits.append(out[:, -1])
            hs.append(h)
            cs.append(c)
        self.state = (torch.cat(hs, dim=1), torch.cat(cs, dim=1))
        return torch.cat(logits)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        out, self.state = self.net(tokens[:, None], self.state)
        return out[:, -1]

    def reorder(self, index: torch.Tensor) -> None:
        self.state = (self.state[0].index_select(1, index), self.state[1].index_select(1, index))
