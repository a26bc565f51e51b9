"""A GPT decoder (Radford et al. 2018/2019), written to read like nanoGPT's model.py.

Pre-norm blocks (LayerNorm -> causal self-attention -> residual, LayerNorm -> MLP -> residual),
learned position embeddings, the output layer tied to the token embedding (Press & Wolf 2017), and
attention through ``F.scaled_dot_product_attention``. An optional :class:`KVCache` keeps past keys
and values so sampling costs one token per step instead of the whole context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aigc.nn.transformer import (
    MLP,
    KVCache,
    SelfAttention,
    TransformerBlock,
    causal_mask,
)

__all__ = ["GPTConfig", "GPT", "KVCache", "new_cache", "fast_step_ok", "FastStep"]


@dataclass(kw_only=True)
class GPTConfig:
    vocab_size: int = 256
    context: int = 256  # maximum positions (nanoGPT's block_size)
    layers: int = 4
    heads: int = 4
    embed: int = 128
    dropout: float = 0.0
    bias: bool = False  # nanoGPT: no biases is slightly better and faster; GPT-2 has them
    gelu: str = "none"  # "none" = exact GELU (nanoGPT), "tanh" = GPT-2's approximation
    norm_eps: float = 1e-5
    # optimiser settings (nanoGPT's shakespeare_char: AdamW betas (0.9, 0.99), weight decay 0.1)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99

    def __post_init__(self) -> None:
        if min(self.vocab_size, self.context, self.layers, self.heads, self.embed) < 1:
            raise ValueError("vocab_size, context, layers, heads and embed must all be >= 1")
        if self.embed % self.heads:
            raise ValueError(f"embed ({self.embed}) must be divisible by heads ({self.heads})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.gelu not in ("none", "tanh"):
            raise ValueError(f"gelu must be 'none' or 'tanh', got {self.gelu!r}")


class GPT(nn.Module):
    """Token ids (B, T) -> next-token logits (B, T, vocab_size)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.embed)
        self.wpe = nn.Embedding(config.context, config.embed)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(
            TransformerBlock(config.embed, config.heads, dropout=config.dropout, bias=config.bias,
                             gelu=config.gelu, norm_eps=config.norm_eps)
            for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.embed, eps=config.norm_eps, bias=config.bias)
        self.lm_head = nn.Linear(config.embed, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying (Press & Wolf 2017)
        self._init_weights()

    def _init_weights(self) -> None:
        # GPT-2: N(0, 0.02), residual projections scaled by 1/sqrt(2 * layers) (Radford et al. 2019)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * self.config.layers) if name.endswith("c_proj.weight") else 0.02
                nn.init.normal_(p, mean=0.0, std=std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx: torch.Tensor, *, cache: KVCache | None = None, positions: torch.Tensor | None = None,
                key_valid: torch.Tensor | None = None, last_only: bool = False) -> torch.Tensor:
        """``idx`` (B, T) -> logits (B, T, V), or (B, 1, V) for the last position with ``last_only``
        (sampling needs no others; nanoGPT's inference shortcut).

        ``cache``: past keys/values (advanced by T). ``positions`` (B, T): position ids, default
        ``past .. past+T-1``. ``key_valid`` (B, past+T) bool: False marks left padding of batched
        prompts, which no query attends to.
        """
        b, t = idx.shape
        past = cache.length if cache is not None else 0
        if past + t > self.config.context:
            raise ValueError(f"sequence of {past + t} tokens exceeds the context of {self.config.context}")
        if positions is None:
            positions = torch.arange(past, past + t, device=idx.device).expand(b, t)
        mask = causal_mask(t, past, key_valid, idx.device)
        x = self.wte(idx) + self.wpe(positions)
        if self.training:
            x = self.drop(x)  # identity in eval mode: skip the module call per generated token
        for i, block in enumerate(self.h):
            x = block(x, i, cache, mask)
        if cache is not None:
            cache.length = past + t
        if last_only:
            x = x[:, -1:]
        return self.lm_head(self.ln_f(x))

    def block_parameters(self, k: int) -> list[nn.Parameter]:
        """Parameters of the embeddings and the first ``k`` blocks (what ``--freeze-layers k`` freezes)."""
        params = list(self.wte.parameters()) + list(self.wpe.parameters())
        return params + [p for block in self.h[:k] for p in block.parameters()]


def new_cache(config: GPTConfig, batch: int, device: torch.device, dtype: torch.dtype) -> KVCache:
    """An empty KV cache sized for ``config`` and ``batch`` sequences."""
    return KVCache(layers=config.layers, batch=batch, heads=config.heads, context=config.context,
                   head_dim=config.embed // config.heads, device=device, dtype=dtype)


def fast_step_ok(net: nn.Module) -> bool:
    """Whether :class:`FastStep` computes exactly what ``net`` computes: a GPT in eval mode whose
    blocks are the stock modules (no hooks, no replaced norms or activations; Linear layers may be
    anything callable, e.g. int8 or LoRA layers)."""
    if not isinstance(net, GPT) or net.training or type(net.ln_f) is not nn.LayerNorm:
        return False
    for block in net.h:
        parts = (block, block.attn, block.mlp, block.ln_1, block.ln_2, block.mlp.gelu)
        kinds = (TransformerBlock, SelfAttention, MLP, nn.LayerNorm, nn.LayerNorm, nn.GELU)
        if any(type(m) is not k for m, k in zip(parts, kinds)):
            return False
        if any(m._forward_hooks or m._forward_pre_hooks for m in parts):
            return False
    return not (net._forward_hooks or net._forward_pre_hooks)


def _norm_args(norm: nn.LayerNorm) -> tuple:
    return norm.normalized_shape, norm.weight, norm.bias, norm.eps


class FastStep:
    """One new token per row through ``net``, bit-identical to its cached forward, without the
    module calls: at the char GPT's width per-token overhead, not the matrix products, dominates
    sampling time (each module call and attribute lookup costs about a microsecond, ~150 a token).

    The same operations in the same order as ``net(idx, cache=cache, positions=positions,
    key_valid=...)``; the blocks' parts are looked up once here, so build it per generation and
    only for nets where :func:`fast_step_ok` holds. Linear layers stay module calls (any kind).
    """

    def __init__(self, net: GPT) -> None:
        self.wte, self.wpe, self.lm_head, self.ln_f = net.wte, net.wpe, net.lm_head, _norm_args(net.ln_f)
        self.blocks = [(_norm_args(b.ln_1), b.attn.c_attn, b.attn.heads, b.attn.c_proj, _norm_args(b.ln_2),
                        b.mlp.c_fc, b.mlp.gelu.approximate, b.mlp.c_proj) for b in net.h]

    def __call__(self, idx: torch.Tensor, cache: KVCache, positions: torch.Tensor,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
        """``idx`` (B, 1) after ``cache.length`` cached positions -> logits (B, 1, V); ``mask``: the
        (B, 1, 1, past+1) bool mask of :func:`causal_mask` for left-padded rows, else None."""
        b, t = idx.shape
        x = self.wte(idx) + self.wpe(positions)
        c = x.shape[-1]
        for i, (ln_1, c_attn, heads, attn_proj, ln_2, c_fc, approximate, mlp_proj) in enumerate(self.blocks):
            q, k, v = c_attn(torch.layer_norm(x, *ln_1)).split(c, dim=2)
            q, k, v = (z.view(b, t, heads, c // heads).transpose(1, 2) for z in (q, k, v))
            k, v = cache.update(i, k, v)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=False)
            x = x + attn_proj(y.transpose(1, 2).reshape(b, t, c))
            x = x + mlp_proj(F.gelu(c_fc(torch.layer_norm(x, *ln_2)), approximate=approximate))
        cache.length += t
        return self.lm_head(torch.layer_norm(x, *self.ln_f))
