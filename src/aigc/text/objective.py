"""Language-model objectives for the Trainer: next-token cross-entropy over (B, context+1) windows.

Registered in ``ARCHITECTURES["text"]`` as ``gpt`` and ``lstm``. Each owns its network under the
name ``"model"``, its AdamW parameter groups, layer freezing for fine-tuning, and a decoder
(``aigc.text.decoding``) that the sampler drives.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.text.decoding import GPTDecoder, LSTMDecoder
from aigc.text.gpt import GPT, GPTConfig
from aigc.text.lstm import LSTMLM, LSTMConfig
from aigc.train.objective import SingleNetworkObjective

__all__ = ["GPTObjective", "LSTMObjective", "lm_loss"]


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of logits (B, T, V) against targets (B, T), in nats."""
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction=reduction)


class LanguageModelObjective(SingleNetworkObjective):
    """Shared by GPT and LSTM: the loss, optimiser groups, freezing and log-likelihood."""

    @staticmethod
    def logits(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return net(x)

    def freeze(self, k: int) -> int:
        """Freeze the embeddings and the first ``k`` layers; returns how many tensors were frozen."""
        if not 0 <= k <= self.config.layers:
            from aigc.core.errors import BadInputError

            raise BadInputError(f"--freeze-layers must be between 0 and {self.config.layers}, got {k}")
        params = self.nets["model"].block_parameters(k) if k else []
        for p in params:
            p.requires_grad_(False)
        return len(params)

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        """AdamW; weight decay only on matrices of linear/recurrent layers, never on norms, biases
        or embeddings (as GPT-2/nanoGPT decay only 2-D weights; embeddings are tables, not maps)."""
        decay, no_decay = [], []
        for name, p in nets["model"].named_parameters():
            if p.requires_grad:
                is_matrix = p.dim() >= 2 and not name.startswith(("wte.", "wpe."))
                (decay if is_matrix else no_decay).append(p)
        groups = [{"params": decay, "weight_decay": self.config.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        betas = (self.config.beta1, self.config.beta2)
        return {"model": torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=betas)}

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: Any) -> dict[str, torch.Tensor]:
        """``batch["tokens"]`` (B, context+1): predict tokens 1.. from tokens ..-1."""
        tokens = batch["tokens"]
        logits = self.logits(nets["model"], tokens[:, :-1])
        if "weights" not in batch:
            return {"loss": lm_loss(logits, tokens[:, 1:])}
        # dialogue: only the targets the mask keeps (the assistant's turns) are scored
        w = batch["weights"][:, 1:].float()
        nll = lm_loss(logits, tokens[:, 1:], reduction="none").view_as(w)
        return {"loss": (nll * w).sum() / w.sum().clamp(min=1.0)}

    @torch.no_grad()
    def nll(self, nets: Mapping[str, nn.Module], windows: torch.Tensor) -> tuple[float, int]:
        """Summed NLL (nats) and token count of the targets of (N, context+1) windows."""
        net = nets["model"]
        logits = self.logits(net, windows[:, :-1])
        return float(lm_loss(logits, windows[:, 1:], reduction="sum")), windows[:, 1:].numel()


class GPTObjective(LanguageModelObjective):
    """Objective for :class:`aigc.text.gpt.GPT`."""

    config_class = GPTConfig
    network_class = GPT

    def decoder(self, nets: Mapping[str, nn.Module], *, use_cache: bool = True) -> GPTDecoder:
        return GPTDecoder(nets["model"], use_cache=use_cache)

    def example_inputs(self, name: str, batch: int = 1) -> tuple[torch.Tensor, ...]:
        """``aigc export``: (tokens (B, T), positions, key_valid (B, P+T), past keys and values
        (L, B, H, P, D)) for the KV-cached network, with P past and T new positions."""
        if name != "model":
            raise KeyError(name)
        c, g = self.config, torch.Generator().manual_seed(0)
        past = min(2, c.context // 2)
        new = max(1, min(3, c.context - past))
        tokens = torch.randint(0, c.vocab_size, (batch, new), generator=g)
        positions = torch.arange(past, past + new).expand(batch, new)
        kv_shape = (c.layers, batch, c.heads, past, c.embed // c.heads)
        return (tokens, positions, torch.ones(batch, past + new, dtype=torch.bool),
                torch.randn(kv_shape, generator=g), torch.randn(kv_shape, generator=g))


class LSTMObjective(LanguageModelObjective):
    """Objective for :class:`aigc.text.lstm.LSTMLM`."""

    config_class = LSTMConfig
    network_class = LSTMLM

    @staticmethod
    def logits(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return net(x)[0]

    def decoder(self, nets: Mapping[str, nn.Module], *, use_cache: bool = True) -> LSTMDecoder:
        return LSTMDecoder(nets["model"])
