"""A decoder-only Transformer over event tokens, built from the shared :mod:`aigc.nn.transformer`
blocks, with a learned relative-position bias per head added to the attention logits (``relative``;
the T5 form of relative attention, Raffel et al. 2020 — a lighter cousin of Music Transformer's
relative embeddings, Huang et al. 2019: a chorale's events repeat at fixed distances, a beat or a
bar apart, wherever they start).

Tokens are those of :class:`aigc.data.music.EventVocab` (BAR / NOTE_OFF / NOTE_ON / SHIFT). The
event encoding is a function of the piano-roll, so ``-log p(events)`` bounds the roll's negative
log-likelihood from above; divided by the number of steps it is comparable with the framewise NLL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.data.music import EventVocab
from aigc.music.augment import random_transpose_tokens
from aigc.nn.transformer import KVCache, TransformerBlock, causal_mask
from aigc.train.objective import NetworksObjective

__all__ = ["EventConfig", "EventTransformer", "EventObjective"]


@dataclass(kw_only=True)
class EventConfig:
    """Model and objective settings (saved in config.json)."""

    context: int = 512
    layers: int = 4
    heads: int = 4
    embed: int = 256
    dropout: float = 0.1
    max_shift: int = 16
    relative: bool = True  # learned relative-position attention bias, shared by the layers
    transpose: int = 6
    weight_decay: float = 0.01

    def __post_init__(self) -> None:
        if self.embed % self.heads:
            raise BadInputError(f"embed ({self.embed}) must be divisible by heads ({self.heads})")
        if min(self.context, self.layers, self.heads, self.max_shift) < 1:
            raise BadInputError("context, layers, heads and max_shift must be >= 1")

    @property
    def vocab(self) -> EventVocab:
        return EventVocab(max_shift=self.max_shift)


class EventTransformer(nn.Module):
    """``forward(tokens (B, T), cache=None) -> logits (B, T, V)``; with a cache, positions continue
    after ``cache.length``."""

    def __init__(self, config: EventConfig) -> None:
        super().__init__()
        self.config = config
        vocab = config.vocab.size
        self.wte = nn.Embedding(vocab, config.embed)
        self.wpe = nn.Embedding(config.context, config.embed)
        self.drop = nn.Dropout(config.dropout)
        # bias[distance, head]; distance = query position - key position (0 .. context - 1)
        self.rel = nn.Embedding(config.context, config.heads) if config.relative else None
        self.blocks = nn.ModuleList(TransformerBlock(config.embed, config.heads, dropout=config.dropout)
                                    for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.embed, bias=False)
        self.head = nn.Linear(config.embed, vocab, bias=False)
        self.head.weight = self.wte.weight  # tied (Press & Wolf 2017)
        self.apply(self._init)
        if self.rel is not None:  # start as plain causal attention
            nn.init.zeros_(self.rel.weight)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def _relative(self, t: int, past: int, x: torch.Tensor) -> torch.Tensor:
        return _relative_bias(self.rel, t, past, x)

    def new_cache(self, batch: int, device: torch.device) -> KVCache:
        c = self.config
        return KVCache(layers=c.layers, batch=batch, heads=c.heads, context=c.context,
                       head_dim=c.embed // c.heads, device=device, dtype=self.wte.weight.dtype)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        past = cache.length if cache is not None else 0
        t = tokens.shape[1]
        if past + t > self.config.context:
            raise BadInputError(f"{past + t} tokens exceed the model's context of {self.config.context}")
        pos = torch.arange(past, past + t, device=tokens.device)
        x = self.drop(self.wte(tokens) + self.wpe(pos))
        mask = causal_mask(t, past, None, tokens.device) if self.rel is None else self._relative(t, past, x)
        for i, block in enumerate(self.blocks):
            x = block(x, i, cache, mask)
        if cache is not None:
            cache.length = past + t
        return self.head(self.ln_f(x))


def _relative_bias(rel: nn.Embedding, t: int, past: int, x: torch.Tensor) -> torch.Tensor:
    """(1, heads, t, past + t) additive attention bias: rel[q - k] where q >= k, else -inf."""
    q = torch.arange(past, past + t, device=x.device)
    k = torch.arange(past + t, device=x.device)
    dist = q[:, None] - k[None, :]
    bias = rel(dist.clamp(min=0)).permute(2, 0, 1).to(x.dtype)  # (H, t, s)
    return bias.masked_fill(dist < 0, float("-inf"))[None]


class EventObjective(NetworksObjective):
    """Next-token cross-entropy on windows ``batch["tokens"]`` (B, context+1), PAD not scored."""

    config_class = EventConfig
    ema_networks = ("model",)
    default_lr, default_batch_size = 5e-4, 16
    kind = "events"

    def __init__(self, config: EventConfig) -> None:
        self.config = config
        self.nets = {"model": EventTransformer(config)}

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        def is_matrix(name: str, p: torch.Tensor) -> bool:  # embeddings are tables: no decay
            return p.dim() >= 2 and not name.startswith(("wte", "wpe"))

        params = list(nets["model"].named_parameters())
        decay = [p for n, p in params if is_matrix(n, p)]
        rest = [p for n, p in params if not is_matrix(n, p)]
        groups = [{"params": decay, "weight_decay": self.config.weight_decay},
                  {"params": rest, "weight_decay": 0.0}]
        return {"model": torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))}

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        v = self.config.vocab
        tokens = random_transpose_tokens(batch["tokens"], v.ON, v.OFF, self.config.transpose, ctx.generator)
        logits = nets["model"](tokens[:, :-1])
        return {"loss": F.cross_entropy(logits.flatten(0, 1).float(), tokens[:, 1:].flatten(),
                                        ignore_index=v.PAD)}

    @torch.no_grad()
    def sequence_nll(self, nets: Mapping[str, nn.Module], tokens: torch.Tensor) -> float:
        """Summed NLL (nats) of tokens[1:] given the earlier ones, for one sequence ``(N,)``
        (sliding windows of the context with half-context overlap when it is longer)."""
        net, ctx = nets["model"], self.config.context
        total, done, n = 0.0, 1, len(tokens)  # token 0 (BOS) is given; `done` = next target
        while done < n:
            start = max(0, done - 1 - ctx // 2)  # later windows keep half a context of history
            window = tokens[start:start + ctx + 1]
            logits = net(window[None, :-1])[0]
            nll = F.cross_entropy(logits.float(), window[1:], reduction="none")
            total += float(nll[done - start - 1:].sum())
            done = start + len(window)
        return total
