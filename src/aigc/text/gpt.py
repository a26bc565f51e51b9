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

__all__ = ["GPTConfig", "GPT", "KVCache"]


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


class KVCache:
    """Pre-allocated keys/values, each (B, heads, context, head_dim) per layer; ``length`` is the
    number of positions filled. Not a module: the sampler owns it and passes it to ``GPT.forward``."""

    def __init__(self, config: GPTConfig, batch: int, device: torch.device, dtype: torch.dtype) -> None:
        shape = (batch, config.heads, config.context, config.embed // config.heads)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.layers)]
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


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.heads, self.dropout = config.heads, config.dropout
        self.c_attn = nn.Linear(config.embed, 3 * config.embed, bias=config.bias)
        self.c_proj = nn.Linear(config.embed, config.embed, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, layer: int, cache: KVCache | None,
                mask: torch.Tensor | bool) -> torch.Tensor:
        """x (B, T, C); mask True = plain causal, False = attend to all keys, else a bool
        (B, 1, T, S) tensor with True = may attend."""
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k, v = cache.update(layer, k, v)
        causal = mask is True
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None if isinstance(mask, bool) else mask,
                                           is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(b, t, c)))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.embed, 4 * config.embed, bias=config.bias)
        self.gelu = nn.GELU(approximate=config.gelu)
        self.c_proj = nn.Linear(4 * config.embed, config.embed, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.embed, eps=config.norm_eps, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.embed, eps=config.norm_eps, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, layer: int, cache: KVCache | None, mask: torch.Tensor | bool) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), layer, cache, mask)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Token ids (B, T) -> next-token logits (B, T, vocab_size)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.embed)
        self.wpe = nn.Embedding(config.context, config.embed)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config) for _ in range(config.layers))
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
        mask = self._mask(t, past, key_valid, idx.device)
        x = self.drop(self.wte(idx) + self.wpe(positions))
        for i, block in enumerate(self.h):
            x = block(x, i, cache, mask)
        if cache is not None:
            cache.length = past + t
        if last_only:
            x = x[:, -1:]
        return self.lm_head(self.ln_f(x))

    @staticmethod
    def _mask(t: int, past: int, key_valid: torch.Tensor | None, device: torch.device) -> torch.Tensor | bool:
        """True (plain causal, the fast path) or False (one new token seeing every key) when
        possible, else a bool (B or 1, 1, T, past+T) mask."""
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

    def block_parameters(self, k: int) -> list[nn.Parameter]:
        """Parameters of the embeddings and the first ``k`` blocks (what ``--freeze-layers k`` freezes)."""
        params = list(self.wte.parameters()) + list(self.wpe.parameters())
        return params + [p for block in self.h[:k] for p in block.parameters()]
