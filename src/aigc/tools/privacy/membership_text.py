"""Membership inference for language models: was this text in the training data?

Each text file is cut into sequences (its non-empty lines, or consecutive windows of
``context + 1`` tokens), and each sequence is scored by the model's own training loss (the
objective's ``training_step`` on ``{"tokens": (1, L)}``, the batch every token model of the
project trains on), so nothing here knows which task made the model. Three attacks:

- loss threshold (Yeom et al. 2018) and the shadow-free likelihood ratio, as for images
  (:func:`aigc.tools.privacy.membership.attack_scores`);
- zlib-calibrated loss (Carlini et al. 2021, "Extracting training data from large language
  models"): the sequence's total NLL in bits over its zlib-compressed size in bits, so text that
  is merely easy (repetitive, short words) is not mistaken for remembered text.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from aigc.core.errors import BadInputError

__all__ = ["TOKENS_KEY", "TokenPipeline", "audit_text_membership", "read_sequences", "sequence_losses"]

TOKENS_KEY = "tokens"  # token models train on batch["tokens"] windows (B, context + 1)
UNITS = ("line", "window")


class _Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...


@runtime_checkable
class TokenPipeline(Protocol):
    """A Pipeline of a token model: a tokenizer and the model's context length."""

    tokenizer: _Tokenizer
    context: int


def _read(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"{path}: no such text file (give --data and --holdout as UTF-8 text files)")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: not UTF-8 text (byte {exc.start}); convert it first") from exc


def read_sequences(path: str, tokenizer: _Tokenizer, context: int, *, unit: str = "line") -> list[tuple[str, torch.Tensor]]:
    """(text, token ids (L,)) per sequence of a UTF-8 file: each non-empty line with its newline,
    cut to ``context + 1`` tokens (``unit="line"``), or consecutive windows of ``context + 1``
    tokens of the whole file (``unit="window"``). Sequences of fewer than 2 tokens are dropped."""
    if unit not in UNITS:
        raise BadInputError(f"--unit must be one of {UNITS}, got {unit!r}")
    text = _read(path)
    if unit == "line":
        pieces = [(line + "\n", torch.tensor(tokenizer.encode(line + "\n"), dtype=torch.long)[:context + 1])
                  for line in text.splitlines() if line.strip()]
    else:
        ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
        pieces = [("", w) for w in ids.split(context + 1)]
    out = [(t, ids) for t, ids in pieces if len(ids) >= 2]
    if not out:
        raise BadInputError(f"{path}: no sequence of 2 or more tokens to score")
    return out


def sequence_losses(objective: Any, nets: Any, sequences: list[torch.Tensor], *, device: torch.device | str = "cpu",
                    seed: int = 0) -> np.ndarray:
    """Mean per-token loss (nats) of each sequence under the objective's own training loss."""
    from aigc.tools.privacy.membership import example_losses

    return np.asarray([example_losses(objective, nets, {TOKENS_KEY: s[None]}, device=device, seed=seed)[0]
                       for s in sequences])


def _zlib_bits(text: str) -> float:
    return 8.0 * len(zlib.compress(text.encode("utf-8"), 9))


def _pick(items: list, n: int, seed: int) -> list:
    if len(items) <= n:
        return items
    idx = np.random.default_rng(seed).permutation(len(items))[:n]
    return [items[i] for i in sorted(idx)]


def audit_text_membership(pipe: Any, members: str, holdout: str, *, n: int = 1000, unit: str = "line",
                          seed: int = 0) -> dict[str, Any]:
    """The membership report of a token model on two text files (members, non-members)."""
    from aigc.tools.privacy.membership import attack_scores, roc_auc, tpr_at_fpr

    sets = {}
    for name, path, s in (("members", members, seed), ("holdout", holdout, seed + 1)):
        sets[name] = _pick(read_sequences(path, pipe.tokenizer, pipe.context, unit=unit), n, s)
    losses = {k: sequence_losses(pipe.objective, pipe.nets, [ids for _, ids in v], device=pipe.device, seed=seed)
              for k, v in sets.items()}
    if not all(np.isfinite(v).all() for v in losses.values()):
        raise BadInputError("membership audit: the model's losses are not finite on these texts")
    lm, lh = losses["members"], losses["holdout"]
    report: dict[str, Any] = {"model_id": pipe.model_id, "members": members, "holdout": holdout, "unit": unit,
                              "n": [len(lm), len(lh)], "mean_loss_members": float(lm.mean()),
                              "mean_loss_holdout": float(lh.mean()), **attack_scores(lm, lh, seed)}
    if unit == "line":  # zlib needs the text of each sequence
        def calibrated(key: str) -> np.ndarray:
            return np.asarray([-(loss * (len(ids) - 1) / math.log(2)) / _zlib_bits(t)
                               for (t, ids), loss in zip(sets[key], losses[key])])

        cm, ch = calibrated("members"), calibrated("holdout")
        report["zlib_calibrated"] = {"auc": roc_auc(cm, ch), "tpr_at_1pct_fpr": tpr_at_fpr(cm, ch)}
    return report
