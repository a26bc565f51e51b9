"""Held-out evaluation of language models: summed NLL over a token stream and perplexity.

``perplexity(pipe_or_dir, file)`` is the library function behind ``aigc eval text``.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

import torch
from torch import nn

from aigc.core.errors import BadInputError
from aigc.metrics import Perplexity

__all__ = ["stream_nll", "perplexity"]


@torch.no_grad()
def stream_nll(objective: Any, nets: Mapping[str, nn.Module], ids: torch.Tensor, context: int, *,
               batch_size: int = 32, max_tokens: int | None = None) -> tuple[float, int]:
    """Summed NLL (nats) and count of every token of ``ids`` (N,) after the first.

    The stream is cut into consecutive windows of ``context + 1`` tokens overlapping by one, so
    each token is predicted once from up to ``context`` tokens before it (as nanoGPT's validation
    windows on average). ``max_tokens`` caps the work on long streams (the first tokens are used).
    """
    if max_tokens is not None:
        ids = ids[:max_tokens + 1]
    if len(ids) < 2:
        raise BadInputError(f"need at least 2 tokens to evaluate, got {len(ids)}")
    modes = {k: net.training for k, net in nets.items()}
    for net in nets.values():
        net.eval()
    device = next(nets["model"].parameters()).device
    n_full = (len(ids) - 1) // context
    total, count = 0.0, 0
    if n_full:
        for chunk in ids[:n_full * context + 1].unfold(0, context + 1, context).split(batch_size):
            nll, n = objective.nll(nets, chunk.to(device))
            total, count = total + nll, count + n
    rest = len(ids) - 1 - n_full * context
    if rest:
        tail = ids[-(min(len(ids), context + 1)):].to(device)[None]
        logits = objective.logits(nets["model"], tail[:, :-1])[:, -rest:]
        total += float(torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(),
                                                         tail[:, -rest:].flatten(), reduction="sum"))
        count += rest
    for k, net in nets.items():
        net.train(modes[k])
    return total, count


def perplexity(pipe_or_dir: Any, file: str | os.PathLike, *, errors: str = "strict", device: str = "auto",
               batch_size: int = 32) -> dict[str, Any]:
    """Perplexity of a text model on a held-out UTF-8 file.

    Returns ``{"perplexity", "nll_per_token" (nats), "bits_per_char", "tokens", "characters",
    "model_id", "file"}``. ``pipe_or_dir`` is a :class:`~aigc.text.pipeline.TextPipeline` or a
    model directory.
    """
    from aigc.text.corpus import read_text_file

    pipe = pipe_or_dir
    if not hasattr(pipe, "tokenizer"):
        import aigc

        pipe = aigc.load(str(pipe_or_dir), device=device)
    text = read_text_file(file, errors)
    ids = torch.tensor(pipe.tokenizer.encode(text), dtype=torch.long)
    nll, n = stream_nll(pipe.objective, pipe.nets, ids, pipe.context, batch_size=batch_size)
    metric = Perplexity()
    metric.update(nll, n)
    return {"perplexity": metric.compute(), "nll_per_token": nll / n,
            "bits_per_char": nll / math.log(2) / max(1, len(text)), "tokens": n,
            "characters": len(text), "model_id": pipe.model_id, "file": str(file)}
