"""Training a text model end to end: corpus -> tokenizer -> token windows -> Trainer -> val loss.

Shared by ``aigc train text``, the demo and the benchmark, so all three run the same code.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.core.pipeline import load_objective
from aigc.core.registry import architecture
from aigc.text.chat import END, ROLES, assistant_mask
from aigc.text.corpus import Corpus, lm_windows, load_corpus, split_tokens
from aigc.text.evaluate import stream_nll
from aigc.text.sampling import SamplingParams, TokenSampler
from aigc.text.tokenizer import TextTokenizer, train_tokenizer
from aigc.train import TrainConfig
from aigc.train.run import build_seeded, run_training

__all__ = ["TextSettings", "MODEL_FIELDS", "encode_corpus", "train"]

TASK = "text"
VAL_EVAL_TOKENS = 200_000  # cap on validation tokens scored after training (time, not accuracy)


@dataclass(kw_only=True)
class TextSettings:
    """What to train besides the training loop's settings. Field names are the CLI flags'; model
    fields left None take the architecture's defaults (or ``init_from``'s)."""

    data: str | Corpus  # a UTF-8 file, a folder, a .jsonl dialogue file, 'builtin:pydoc', or a Corpus
    arch: str = "gpt"
    tokenizer: str = "char"
    vocab_size: int = 2048  # BPE only
    val_fraction: float = 0.1
    errors: str = "strict"
    init_from: str | None = None  # fine-tune this model directory
    freeze_layers: int = 0
    context: int | None = None
    layers: int | None = None
    heads: int | None = None
    embed: int | None = None
    dropout: float | None = None
    weight_decay: float | None = None

    @property
    def model(self) -> dict[str, Any]:
        """The model fields given (None = default); ``heads`` is dropped for the LSTM."""
        given = {k: getattr(self, k) for k in MODEL_FIELDS if getattr(self, k) is not None}
        if self.arch == "lstm":
            given.pop("heads", None)
        return given


MODEL_FIELDS = ("context", "layers", "heads", "embed", "dropout", "weight_decay")


def encode_corpus(corpus: Corpus, tokenizer: TextTokenizer) -> torch.Tensor:
    """All documents as one (N,) token stream, ``<|endoftext|>`` between documents."""
    eos = tokenizer.eos_id
    ids: list[int] = []
    for i, doc in enumerate(corpus.documents):
        if i and eos is not None and corpus.kind == "text":
            ids.append(eos)
        ids.extend(tokenizer.encode(doc))
    return torch.tensor(ids, dtype=torch.long)


def dialogue_weights(ids: torch.Tensor, tokenizer: TextTokenizer) -> torch.Tensor:
    """(N,) training weights of a dialogue token stream: 1 on the assistant's turns (see chat.py)."""
    roles = {r: tokenizer.token_id(f"<|{r}|>") for r in ROLES}
    end = tokenizer.token_id(END)
    if end is None or any(v is None for v in roles.values()):
        raise BadInputError("this tokenizer has no chat markers; train dialogues with a fresh tokenizer")
    weights = assistant_mask(ids, roles, end)
    if not weights.any():
        raise BadInputError("the dialogues have no assistant turns to learn from")
    return weights


def _build(spec: TextSettings, corpus: Corpus, out_dir: Path, resume: bool) -> tuple[Any, TextTokenizer, str]:
    """The objective, tokenizer and architecture name: fresh, resumed, or from ``init_from``."""
    if spec.init_from:
        objective, _, src = load_objective(spec.init_from, torch.device("cpu"), prefer_ema=True)
        if src["task"] != TASK:
            raise BadInputError(f"--init-from {spec.init_from}: a {src['task']!r} model, not a text model")
        for net in objective.networks().values():
            net.train()
        return objective, TextTokenizer.from_file(spec.init_from), src["architecture"]
    cls = architecture(TASK, spec.arch)
    if resume and (out_dir / "tokenizer.json").is_file():
        tokenizer = TextTokenizer.from_file(out_dir)
    else:
        tokenizer = train_tokenizer(spec.tokenizer, corpus.documents, spec.vocab_size)
    try:
        config = cls.config_class(**{**spec.model, "vocab_size": tokenizer.vocab_size})
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{spec.arch} model settings: {exc}") from exc
    return cls(config), tokenizer, spec.arch


def _preview(objective: Any, tokenizer: TextTokenizer, out_dir: Path):
    """A Trainer preview hook writing ``samples/latest.txt`` (200 sampled tokens)."""

    def preview(nets: dict, generator: torch.Generator) -> None:
        params = SamplingParams(max_tokens=200, top_k=50)
        sampler = TokenSampler(objective.decoder(nets), [[tokenizer.eos_id or 0]], params, generator,
                               tokenizer.stop_ids())
        ids = [int(tok[0]) for tok, new in sampler if bool(new[0])]
        (out_dir / "samples").mkdir(parents=True, exist_ok=True)
        (out_dir / "samples" / "latest.txt").write_text(tokenizer.decode(ids), encoding="utf-8")
        return None

    return preview


def _corpus(data: str | Corpus, errors: str) -> Corpus:
    if isinstance(data, Corpus):
        return data
    if data == "builtin:pydoc":
        from aigc.text.corpus import demo_corpus

        return Corpus("builtin:pydoc", [demo_corpus()], "text", ["pydoc_data.topics"])
    return load_corpus(data, errors=errors)


def train(settings: TextSettings, config: TrainConfig, out: str | os.PathLike, *,
          resume: bool = False) -> dict[str, Any]:
    """Train (or fine-tune) a language model into ``out``; returns the Trainer's summary plus
    ``val_loss`` (nats/token on the held-out tail) and ``train_tokens``."""
    out_dir = Path(out)
    if settings.init_from and settings.model:
        raise BadInputError(f"--init-from takes the model settings from {settings.init_from}; drop "
                            + ", ".join(f"--{k.replace('_', '-')}" for k in settings.model))
    corpus = _corpus(settings.data, settings.errors)
    objective, tokenizer, arch = build_seeded(config.seed, lambda: _build(settings, corpus, out_dir, resume))
    if settings.freeze_layers:
        objective.freeze(settings.freeze_layers)
    ids = encode_corpus(corpus, tokenizer)
    train_ids, val_ids = split_tokens(ids, settings.val_fraction)
    context = objective.config.context
    data = {"tokens": lm_windows(train_ids, context)}
    if corpus.kind == "dialogue":
        data["weights"] = lm_windows(dialogue_weights(train_ids, tokenizer), context)
    meta = {"data": {**corpus.spec(), "tokenizer": settings.tokenizer if not settings.init_from else "inherited",
                     "tokens": len(ids), "val_fraction": settings.val_fraction},
            "init_from": settings.init_from, "freeze_layers": settings.freeze_layers}
    stored = settings if isinstance(settings.data, str) else dataclasses.replace(settings, data=corpus.source)

    def after_fit(trainer: Any, summary: dict[str, Any]) -> None:
        summary["train_tokens"] = len(train_ids)
        if len(val_ids) >= 2:
            nll, n = stream_nll(objective, trainer.sampling_networks(), val_ids, context,
                                max_tokens=VAL_EVAL_TOKENS)
            summary["val_loss"] = nll / n

    return run_training(task=TASK, architecture=arch, settings=stored, objective=objective, data=data,
                        config=config, out=out_dir, resume=resume, meta=meta,
                        preview=_preview(objective, tokenizer, out_dir), after_fit=after_fit,
                        save_extra=tokenizer.save)
