"""Sampling loops for the three music models; networks stay pure, the loops live here.

- :func:`sample_frames` — RNN-NADE, step by step, key by key (optionally continuing a prompt roll);
- :func:`sample_events` — the event Transformer with a KV cache, temperature and top-p; the cache is
  rebuilt from the last half context when a piece outgrows the context;
- :func:`gibbs_infill` — Coconet's annealed blocked Gibbs sampling (Huang et al. 2017, Yao et al.
  2014): erase a shrinking random share of the free cells, resample them, repeat; cells marked
  ``fixed`` (the given soprano, a prompt) are never changed.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from aigc.data.music import KEYS, EventVocab, events_to_roll, roll_to_events

__all__ = ["top_p_filter", "sample_frames", "sample_events", "gibbs_infill"]



def top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of classes whose probability reaches ``top_p`` (nucleus sampling,
    Holtzman et al. 2020); ``probs`` (B, V) -> renormalised (B, V)."""
    if top_p >= 1.0:
        return probs
    sorted_p, order = probs.sort(dim=-1, descending=True)
    keep = (sorted_p.cumsum(-1) - sorted_p) < top_p  # the first class is always kept
    filtered = torch.zeros_like(probs).scatter(-1, order, sorted_p * keep)
    return filtered / filtered.sum(-1, keepdim=True)


@torch.no_grad()
def sample_frames(net: nn.Module, steps: int, *, prompt: np.ndarray | None = None,
                  temperature: float = 1.0, generator: torch.Generator | None = None,
                  constraints: np.ndarray | None = None, device: torch.device | str = "cpu",
                  progress: bool = False) -> np.ndarray:
    """``steps`` new steps after ``prompt`` (T0, 88) -> the whole roll ``(T0 + steps, 88)``.

    ``constraints`` ``(steps, 88)`` int forces keys of the new steps to 0 or 1 (-1 = free).
    """
    fixed = None if constraints is None else torch.as_tensor(np.asarray(constraints), device=device)
    prev = torch.zeros(1, 1, KEYS, device=device)
    state = None
    rows = []
    if prompt is not None and len(prompt):
        p = torch.as_tensor(np.asarray(prompt, dtype=np.float32), device=device)[None]
        _, state = net.step(torch.cat([prev, p[:, :-1]], dim=1))
        prev = p[:, -1:]
        rows = [r for r in np.asarray(prompt, dtype=bool)]
    for t in tqdm(range(steps), desc="sample", unit="step", disable=not progress):
        hidden, state = net.step(prev, state)
        frame = net.sample_step(hidden[:, -1], generator, temperature,
                                None if fixed is None else fixed[t:t + 1])
        rows.append(frame[0].bool().cpu().numpy())
        prev = frame[:, None]
    return np.stack(rows) if rows else np.zeros((0, KEYS), dtype=bool)


def _next_token(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None,
                banned: list[int]) -> int:
    logits = logits.float().clone()
    logits[banned] = -float("inf")
    if temperature <= 0:
        return int(logits.argmax())
    probs = top_p_filter(torch.softmax(logits / temperature, -1)[None], top_p)[0]
    return int(torch.multinomial(probs, 1, generator=generator))


def _prime(net: nn.Module, tokens: list[int], device: torch.device | str) -> tuple[Any, torch.Tensor]:
    cache = net.new_cache(1, torch.device(device))
    logits = net(torch.tensor([tokens], device=device), cache)
    return cache, logits[0, -1]


@torch.no_grad()
def sample_events(net: nn.Module, steps: int, *, vocab: EventVocab, steps_per_bar: int,
                  prompt: np.ndarray | None = None, temperature: float = 1.0, top_p: float = 1.0,
                  generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                  progress: bool = False) -> np.ndarray:
    """Continue ``prompt`` (T0, 88) by ``steps`` steps of event tokens -> roll ``(T0 + steps, 88)``."""
    if prompt is not None and len(prompt):
        tokens = roll_to_events(prompt, steps_per_bar, vocab)[:-1]  # drop EOS
        # the closing offs of the prompt would end every note: cut back to the last shift
        while tokens and not (vocab.SHIFT <= tokens[-1] < vocab.size):
            tokens.pop()
    else:
        tokens = [vocab.BOS]
    start = len(events_to_roll(tokens, vocab))
    context = net.config.context
    window = tokens[-(context // 2):] if len(tokens) >= context else tokens
    cache, logits = _prime(net, window, device)
    banned = [vocab.PAD, vocab.BOS]
    position = start
    bar = tqdm(total=steps, desc="sample", unit="step", disable=not progress)
    while position < start + steps:
        tok = _next_token(logits, temperature, top_p, generator, banned)
        if tok == vocab.EOS:
            break
        tokens.append(tok)
        if vocab.SHIFT <= tok < vocab.size:
            position += tok - vocab.SHIFT + 1
            bar.update(tok - vocab.SHIFT + 1)
        if cache.length >= context:
            cache, logits = _prime(net, tokens[-(context // 2):], device)
        else:
            logits = net(torch.tensor([[tok]], device=device), cache)[0, -1]
    bar.close()
    roll = events_to_roll(tokens + [vocab.SHIFT], vocab)
    return roll[:start + steps]


@torch.no_grad()
def gibbs_infill(objective: Any, nets: Mapping[str, nn.Module], voices: np.ndarray, fixed: np.ndarray, *,
                 iterations: int = 64, temperature: float = 1.0, p_max: float = 0.9, p_min: float = 0.05,
                 anneal: float = 0.75, generator: torch.Generator | None = None,
                 allowed: np.ndarray | None = None, device: torch.device | str = "cpu",
                 progress: bool = False) -> np.ndarray:
    """Fill the free cells of ``voices`` (T, V) classes (88 = rest); ``fixed`` (T, V) bool.

    First every free cell is drawn at once given the fixed ones; then ``iterations`` rounds each
    erase each free cell with probability ``p`` (annealed linearly from ``p_max`` to ``p_min``
    over the first ``anneal`` share of rounds) and redraw the erased cells. ``allowed``
    ``(T, V, 89)`` bool limits the classes each cell may take (e.g. nothing above the soprano).
    """
    ok = None if allowed is None else torch.as_tensor(np.asarray(allowed), dtype=torch.bool, device=device)[None]
    x = torch.as_tensor(np.asarray(voices), dtype=torch.long, device=device)[None].clone()
    keep = torch.as_tensor(np.asarray(fixed), dtype=torch.bool, device=device)[None]
    free = ~keep
    x = _redraw(objective, nets, x, free, temperature, generator, ok)
    for n in tqdm(range(iterations), desc="gibbs", unit="round", disable=not progress):
        frac = min(1.0, n / max(1.0, anneal * iterations))
        p = p_max - (p_max - p_min) * frac
        erase = free & (torch.rand(x.shape, generator=generator, device=x.device) < p)
        if erase.any():
            x = _redraw(objective, nets, x, erase, temperature, generator, ok)
    return x[0].cpu().numpy()


def _redraw(objective: Any, nets: Mapping[str, nn.Module], x: torch.Tensor, erase: torch.Tensor,
            temperature: float, generator: torch.Generator | None, allowed: torch.Tensor | None) -> torch.Tensor:
    probs = objective.probabilities(nets, x, erase, temperature)  # (1, T, V, P)
    if allowed is not None:
        probs = probs * allowed
        probs = torch.where(probs.sum(-1, keepdim=True) > 0, probs, allowed.float())
        probs = probs / probs.sum(-1, keepdim=True).clamp(min=1e-12)
    draw = torch.multinomial(probs.flatten(0, 2), 1, generator=generator).view(x.shape)
    return torch.where(erase, draw, x)
