"""Pre-norm Transformer blocks (GPT-2 layout; Radford et al. 2019), shared by every sequence model.

Sub-module names follow nanoGPT/GPT-2 (``ln_1``, ``attn.c_attn``, ``mlp.c_fc``, ...) so checkpoints
and the Hugging Face GPT-2 importer map one to one. Attention goes through
``F.scaled_dot_product_attention``; :class:`KVCache` keeps past keys and values so sampling costs
one position per step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["KVCache", "SelfAttention", "MLP", "TransformerBlock", "causal_mask"]


class KVCache:
    """Pre-allocated keys/values, each (B, heads, context, head_dim) per layer; ``length`` is the
    number of positions filled. Not a module: the sampler owns it and passes it to the network."""

    def __init__(self, *, layers: int, batch: int, heads: int, context: int, head_dim: int,
                 device: torch.device, dtype: torch.dtype) -> None:
        shape = (batch, heads, context, head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.length = 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write new (B, H, T, D) keys/values after the filled part; return all (B, H, length+T, D)."""
        end = self.length + k.shape[2]
        self.k[layer][:, :, self.length:end] = k
        self.v[layer][:, :, self.length:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` (beam search)."""
        self.k = [k.index_select(0, index) for k in self.k]
        self.v = [v.index_select(0, index) for v in self.v]


class SelfAttention(nn.Module):
    """Multi-head self-attention (B, T, C) -> (B, T, C) with an optional KV cache."""

    def __init__(self, embed: int, heads: int, *, dropout: float = 0.0, bias: bool = False) -> None:
        super().__init__()
        if embed % heads:
            raise ValueError(f"embed ({embed}) must be divisible by heads ({heads})")
        self.heads, self.dropout = heads, dropout
        self.c_attn = nn.Linear(embed, 3 * embed, bias=bias)
        self.c_proj = nn.Linear(embed, embed, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, layer: int = 0, cache: KVCache | None = None,
                mask: torch.Tensor | bool = True) -> torch.Tensor:
        """``mask`` True = plain causal, False = attend to all keys, else a (B, 1, T, S) tensor:
        bool with True = may attend, or float added to the attention logits (e.g. a relative-
        position bias, with -inf where a query may not attend)."""
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k, v = cache.update(layer, k, v)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None if isinstance(mask, bool) else mask,
                                           is_causal=mask is True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(b, t, c)))


class MLP(nn.Module):
    """Position-wise feed-forward, 4x wide with GELU: (B, T, C) -> (B, T, C)."""

    def __init__(self, embed: int, *, dropout: float = 0.0, bias: bool = False, gelu: str = "none") -> None:
        super().__init__()
        self.c_fc = nn.Linear(embed, 4 * embed, bias=bias)
        self.gelu = nn.GELU(approximate=gelu)
        self.c_proj = nn.Linear(4 * embed, embed, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class TransformerBlock(nn.Module):
    """LayerNorm -> attention -> residual, LayerNorm -> MLP -> residual: (B, T, C) -> (B, T, C)."""

    def __init__(self, embed: int, heads: int, *, dropout: float = 0.0, bias: bool = False,
                 gelu: str = "none", norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(embed, eps=norm_eps, bias=bias)
        self.attn = SelfAttention(embed, heads, dropout=dropout, bias=bias)
        self.ln_2 = nn.LayerNorm(embed, eps=norm_eps, bias=bias)
        self.mlp = MLP(embed, dropout=dropout, bias=bias, gelu=gelu)

    def forward(self, x: torch.Tensor, layer: int = 0, cache: KVCache | None = None,
                mask: torch.Tensor | bool = True) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), layer, cache, mask)
        return x + self.mlp(self.ln_2(x))


def causal_mask(t: int, past: int, key_valid: torch.Tensor | None, device: torch.device) -> torch.Tensor | bool:
    """The attention mask for ``t`` new positions after ``past`` cached ones.

    True (plain causal, the fast path) or False (one new token seeing every key) when possible,
    else a bool (B or 1, 1, T, past+T) mask. ``key_valid`` (B, past+T): False marks left padding,
    which no query attends to.
    """
    if key_valid is None and past == 0:
        return True
    if key_valid is None and t == 1:
        return False
    s = past + t
    causal = torch.ones(t, s, dtype=torch.bool, device=device).tril(diagonal=past)
    if key_valid is None:
        return causal[None, None]
    # Every query may see itself, so padded rows never attend to nothing (which gives NaN).
    diag = torch.zeros(t, s, dtype=torch.bool, device=device)
    diag[torch.arange(t), torch.arange(past, s)] = True
    return ((causal & key_valid[:, None, :]) | diag)[:, None]
