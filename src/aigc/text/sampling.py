"""Sampling strategies over a decoder (``aigc.text.decoding``): greedy, temperature, top-k, top-p
(nucleus), repetition penalty, and beam search. Text-level concerns (stop strings, streaming,
UTF-8 pieces) live in the pipeline; this module works on token ids.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch

from aigc.core import progress
from aigc.core.errors import BadInputError

__all__ = ["SamplingParams", "process_logits", "watermark_bias", "choose_tokens", "TokenSampler", "beam_search"]

MAX_NEW_TOKENS = 100_000


@dataclass(kw_only=True)
class SamplingParams:
    """How to pick tokens; recorded with every output. ``temperature=0`` means greedy."""

    max_tokens: int = 200
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0  # CTRL (Keskar et al. 2019) recommends ~1.2; 1 = off
    num_beams: int = 1
    length_penalty: float = 1.0  # beam score = log p / length ** length_penalty (Wu et al. 2016)
    stop: tuple[str, ...] = ()
    seed: int = 0
    use_cache: bool = True
    # green-list bias (Kirchenbauer et al. 2023) that `aigc verify` detects; the CLI turns it on
    watermark: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            self.stop = (self.stop,)
        self.stop = tuple(self.stop)
        checks = [
            (isinstance(self.max_tokens, int) and 1 <= self.max_tokens <= MAX_NEW_TOKENS,
             f"max_tokens must be an integer in [1, {MAX_NEW_TOKENS}], got {self.max_tokens!r}"),
            (math.isfinite(self.temperature) and self.temperature >= 0,
             f"temperature must be >= 0 (0 = greedy), got {self.temperature}"),
            (self.top_k is None or self.top_k >= 1, f"top_k must be >= 1, got {self.top_k}"),
            (self.top_p is None or 0 < self.top_p <= 1, f"top_p must be in (0, 1], got {self.top_p}"),
            (self.repetition_penalty > 0, f"repetition_penalty must be > 0, got {self.repetition_penalty}"),
            (isinstance(self.num_beams, int) and 1 <= self.num_beams <= 64,
             f"num_beams must be an integer in [1, 64], got {self.num_beams!r}"),
            (all(isinstance(s, str) and s for s in self.stop), f"stop strings must be non-empty, got {self.stop!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInputError(message)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def process_logits(logits: torch.Tensor, seen: torch.Tensor | None, params: SamplingParams) -> torch.Tensor:
    """Apply repetition penalty, temperature, top-k and top-p to logits (B, V).

    ``seen`` (B, V) bool marks tokens already in each row's prompt or output. Removed tokens get
    ``-inf``. Order as in Hugging Face ``generate``: penalty, temperature, top-k, top-p.
    """
    logits = logits.float()
    if seen is not None and params.repetition_penalty != 1.0:
        p = params.repetition_penalty
        penalised = torch.where(logits > 0, logits / p, logits * p)
        logits = torch.where(seen, penalised, logits)
    if params.temperature > 0:
        logits = logits / params.temperature
    if params.top_k is not None and params.top_k < logits.shape[-1]:
        kth = torch.topk(logits, params.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if params.top_p is not None and params.top_p < 1:
        # Nucleus sampling (Holtzman et al. 2020): keep the fewest tokens whose mass reaches top_p.
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        mass_before = probs.cumsum(-1) - probs
        remove = mass_before >= params.top_p
        logits = logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
    return logits


def watermark_bias(params: SamplingParams) -> Any:
    """The green-list logits bias ``(logits (B, V), previous tokens (B,)) -> logits``, or None."""
    if not params.watermark:
        return None
    from aigc.core.artifacts import watermarker

    return watermarker("text")()


def choose_tokens(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> torch.Tensor:
    """(B, V) processed logits -> (B,) token ids: argmax when greedy, else a multinomial draw."""
    if params.temperature == 0:
        return logits.argmax(-1)
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)


class TokenSampler:
    """Iterate ``(tokens (B,), new (B,) bool)`` one step at a time; ``new`` is False for rows that
    already finished and for the stop token itself. Call :meth:`finish` to end a row early (e.g. a
    stop string appeared); iteration ends when every row finished or ``max_tokens`` were drawn."""

    def __init__(self, decoder: Any, rows: Sequence[Sequence[int]], params: SamplingParams,
                 generator: torch.Generator | None, stop_ids: set[int]) -> None:
        self.decoder, self.rows, self.params, self.generator = decoder, rows, params, generator
        self.stop_ids = sorted(stop_ids)
        self.done: torch.Tensor | None = None
        self.bias = watermark_bias(params)

    def finish(self, row: int) -> None:
        if self.done is not None:
            self.done[row] = True

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        logits = self.decoder.prefill(self.rows)
        device = logits.device
        self.done = torch.zeros(len(self.rows), dtype=torch.bool, device=device)
        seen = None
        if self.params.repetition_penalty != 1.0:
            seen = torch.zeros(len(self.rows), logits.shape[-1], dtype=torch.bool, device=device)
            for i, row in enumerate(self.rows):
                seen[i, torch.tensor(list(row), dtype=torch.long, device=device)] = True
        stops = torch.tensor(self.stop_ids, dtype=torch.long, device=device)
        prev = torch.tensor([row[-1] if len(row) else 0 for row in self.rows], dtype=torch.long, device=device)
        for t in range(self.params.max_tokens):
            progress.check_cancelled("generation")
            progress.report("token", t + 1, self.params.max_tokens)
            if self.bias is not None:
                logits = self.bias(logits, prev)
            tokens = prev = choose_tokens(process_logits(logits, seen, self.params), self.params, self.generator)
            is_stop = torch.isin(tokens, stops)
            new = ~self.done & ~is_stop
            self.done |= is_stop
            if seen is not None:
                seen[torch.arange(len(tokens), device=device), tokens] = True
            yield tokens, new
            if bool(self.done.all()) or t + 1 == self.params.max_tokens:
                return
            logits = self.decoder.step(tokens)


def beam_search(decoder: Any, row: Sequence[int], params: SamplingParams, stop_ids: set[int]) -> list[int]:
    """Beam search (width ``num_beams``) for one prompt; returns the best continuation's ids.

    A hypothesis ends at a stop token or after ``max_tokens``; its score is the summed
    log-probability divided by ``length ** length_penalty``. Search stops once ``num_beams``
    hypotheses ended. Width 1 is greedy decoding.
    """
    k = params.num_beams
    logits = decoder.prefill([row])
    scores = torch.zeros(1, device=logits.device)
    seqs: list[list[int]] = [[]]
    finished: list[tuple[float, list[int]]] = []
    bias = watermark_bias(params)
    for t in range(params.max_tokens):
        seen = _seen_mask(row, seqs, logits) if params.repetition_penalty != 1.0 else None
        if bias is not None:
            logits = bias(logits, torch.tensor([(list(row) + q)[-1] if (row or q) else 0 for q in seqs],
                                               device=logits.device))
        logp = process_logits(logits, seen, dataclasses.replace(params, temperature=0, top_k=None,
                                                                 top_p=None)).log_softmax(-1)
        cand = (scores[:, None] + logp).flatten()
        top = torch.topk(cand, min(2 * k, cand.numel()))
        beams, toks, new_scores = [], [], []
        for score, idx in zip(top.values.tolist(), top.indices.tolist()):
            beam, tok = divmod(idx, logp.shape[-1])
            if tok in stop_ids:
                finished.append((score / (len(seqs[beam]) + 1) ** params.length_penalty, seqs[beam]))
            else:
                beams.append(beam), toks.append(tok), new_scores.append(score)
            if len(beams) == k:
                break
        if len(finished) >= k or not beams:
            seqs = []
            break
        index = torch.tensor(beams, device=logits.device)
        decoder.reorder(index)
        seqs = [seqs[b] + [tok] for b, tok in zip(beams, toks)]
        scores = torch.tensor(new_scores, device=logits.device)
        if t + 1 < params.max_tokens:
            logits = decoder.step(torch.tensor(toks, device=logits.device))
    finished += [(s / max(1, len(q)) ** params.length_penalty, q) for s, q in zip(scores.tolist(), seqs)]
    return max(finished, key=lambda pair: pair[0])[1]


def _seen_mask(row: Sequence[int], seqs: list[list[int]], logits: torch.Tensor) -> torch.Tensor:
    seen = torch.zeros(len(seqs), logits.shape[-1], dtype=torch.bool, device=logits.device)
    for i, seq in enumerate(seqs):
        seen[i, torch.tensor(list(row) + seq, dtype=torch.long, device=logits.device)] = True
    return seen
