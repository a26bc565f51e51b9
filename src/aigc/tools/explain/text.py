"""Why a language model chose its next token: per-token Integrated Gradients and attention maps.

Generic over the project's language models: the token embedding is found as the network's
``nn.Embedding`` whose size is the vocabulary (the logits' last dimension), and attributions are
Captum's Layer Integrated Gradients on it (baseline: token 0 at every position), summed over the
embedding dimension. Attention maps come from every :class:`aigc.nn.transformer.SelfAttention`
(the shared block all transformer models use): a forward hook recomputes softmax(q k^T / sqrt(d))
under the causal mask from the block's own input. LSTMs have no attention; their maps are empty.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from aigc.core.errors import BadInputError

__all__ = ["attention_maps", "token_attributions", "token_embedding"]


def token_embedding(net: nn.Module, vocab_size: int) -> nn.Embedding:
    for module in net.modules():
        if isinstance(module, nn.Embedding) and module.num_embeddings == vocab_size:
            return module
    raise BadInputError(f"found no token embedding of {vocab_size} entries in this language model")


def _last_logits(objective: Any, net: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    out = objective.logits(net, ids) if hasattr(objective, "logits") else net(ids)
    return out[:, -1, :]


def token_attributions(objective: Any, net: nn.Module, ids: list[int], *, target: int | None = None,
                       steps: int = 32) -> dict[str, Any]:
    """Attribution of each prompt token to the logit of ``target`` (default: the likeliest next token)."""
    from captum.attr import LayerIntegratedGradients

    x = torch.tensor([ids], dtype=torch.long, device=next(net.parameters()).device)
    with torch.no_grad():
        logits = _last_logits(objective, net, x)
    vocab = logits.shape[-1]
    target = int(logits.argmax(-1)) if target is None else int(target)
    lig = LayerIntegratedGradients(lambda t: _last_logits(objective, net, t), token_embedding(net, vocab))
    attr, delta = lig.attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=steps,
                                return_convergence_delta=True)
    scores = attr.sum(-1)[0].detach().cpu()
    return {"target": target, "scores": scores, "completeness_error": float(delta.abs()),
            "probability": float(logits.softmax(-1)[0, target])}


def attention_maps(net: nn.Module, ids: list[int]) -> list[torch.Tensor]:
    """One (heads, T, T) attention matrix per SelfAttention layer, in forward order."""
    from aigc.nn.transformer import SelfAttention

    maps: list[torch.Tensor] = []

    def hook(module: SelfAttention, args: tuple, kwargs: dict, _out: Any) -> None:
        x = args[0]
        b, t, c = x.shape
        q, k, _ = module.c_attn(x).split(c, dim=2)
        q, k = (z.view(b, t, module.heads, c // module.heads).transpose(1, 2) for z in (q, k))
        scores = q @ k.transpose(-1, -2) / math.sqrt(c // module.heads)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        maps.append(scores.masked_fill(~causal, float("-inf")).softmax(-1)[0].detach().cpu())

    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in net.modules() if isinstance(m, SelfAttention)]
    try:
        with torch.no_grad():
            net(torch.tensor([ids], dtype=torch.long, device=next(net.parameters()).device))
    finally:
        for h in handles:
            h.remove()
    return maps
