"""Text watermark: the green list of Kirchenbauer et al. 2023, "A Watermark for Large Language Models".

At every step a keyed hash of (previous token, candidate token) puts a share ``gamma`` of the
vocabulary on a green list; the sampler adds ``delta`` to green logits before choosing. A detector
re-tokenises the text and counts green tokens: under no watermark each scored token is green with
probability ``gamma``, so ``z = (G - gamma T) / sqrt(T gamma (1 - gamma))`` is ~N(0, 1); z > 4
means watermarked (p < 3.2e-5). It needs the tokenizer and the key, never the model. By default
each (previous, token) pair is scored once, so repeated phrases cannot inflate z (their later
section 7 "ignore repeated n-grams"). Defaults gamma = 0.25, delta = 2 are the paper's.

How strong the mark is depends on the entropy per token (the paper's "spike entropy"): the bias
can only turn a token green where the model had green alternatives it found nearly as likely.
Subword (BPE) models have several nats per token, and 200 of their tokens (~500 characters) are
detected one by one even after 20 % random substitution (``benchmarks/watermark.py``, BPE GPT:
120 of 120 edited samples above z = 4, minimum 4.9, at +23 % perplexity). A character model has
~1.7 nats per character, repeats a few hundred (previous, next) pairs, and 200 characters hold
only ~40 words: the same scheme finds ~40 % of such short edited samples (mean z 3.8). They need
longer texts or a larger delta (3: ~95 % at +50 % perplexity per character, measured on the
benchmark's char GPT). Scoring every pair instead of unique ones would lift z, but not honestly:
repeated pairs are not independent, and real text then reaches z = 4 (null spread ~1.1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from aigc.tools.provenance.payload import DEFAULT_KEY, Detection

__all__ = ["DELTA", "GAMMA", "Z_THRESHOLD", "GreenListBias", "detect_text", "detect_tokens", "green_mask"]

GAMMA, DELTA, Z_THRESHOLD = 0.25, 2.0, 4.0
_MASK = 0xFFFFFFFF


def _mix(x: Any) -> Any:
    """lowbias32 (C. Wellons): a 32-bit integer hash; works on int64 tensors and uint64 arrays."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _MASK
    return x ^ (x >> 16)


def _hash(prev: Any, tokens: Any, key: int) -> Any:
    return _mix((_mix((prev * 0x9E3779B1 + key) & _MASK) ^ tokens) & _MASK)


def green_mask(prev: torch.Tensor, vocab_size: int, *, key: int = DEFAULT_KEY, gamma: float = GAMMA) -> torch.Tensor:
    """(B,) previous tokens -> (B, V) bool: the green list of each row."""
    vocab = torch.arange(vocab_size, dtype=torch.int64, device=prev.device)
    return _hash(prev.to(torch.int64)[:, None], vocab[None, :], key) < int(gamma * 2 ** 32)


class GreenListBias:
    """A logits processor: ``bias(logits (B, V), prev (B,)) -> logits + delta * green``."""

    def __init__(self, *, key: int = DEFAULT_KEY, gamma: float = GAMMA, delta: float = DELTA) -> None:
        self.key, self.gamma, self.delta = int(key), float(gamma), float(delta)

    def __call__(self, logits: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        green = green_mask(prev.to(logits.device), logits.shape[-1], key=self.key, gamma=self.gamma)
        return logits + self.delta * green.to(logits.dtype)

    def describe(self) -> dict[str, Any]:
        return {"scheme": "kirchenbauer-green-list", "gamma": self.gamma, "delta": self.delta, "key": "default"
                if self.key == DEFAULT_KEY else "custom"}


def detect_tokens(ids: Sequence[int], *, key: int = DEFAULT_KEY, gamma: float = GAMMA,
                  unique: bool = True) -> Detection:
    """z-score of the green share among ``ids`` (each token scored against the one before it)."""
    arr = np.asarray(list(ids), dtype=np.uint64)
    pairs = np.stack([arr[:-1], arr[1:]], axis=1) if len(arr) > 1 else np.zeros((0, 2), np.uint64)
    if unique and len(pairs):
        pairs = np.unique(pairs, axis=0)
    t = len(pairs)
    if t == 0:
        return Detection(medium="text", found=False, extra={"reason": "fewer than two tokens", "tokens": len(arr)})
    green = int(np.sum(_hash(pairs[:, 0], pairs[:, 1], np.uint64(key)) < np.uint64(int(gamma * 2 ** 32))))
    z = (green - gamma * t) / math.sqrt(t * gamma * (1 - gamma))
    p = 0.5 * math.erfc(z / math.sqrt(2))
    return Detection(medium="text", found=z > Z_THRESHOLD, z=float(z), p_value=float(p), carriers=t,
                     extra={"green": green, "scored": t, "tokens": len(arr), "green_share": green / t})


def detect_text(text: str, tokenizer: Any, **kw: Any) -> Detection:
    """Tokenise ``text`` with ``tokenizer`` (anything with ``encode(str) -> list[int]``) and score it."""
    return detect_tokens(tokenizer.encode(text), **kw)
