"""Corpus BLEU (Papineni et al. 2002) via sacrebleu, and self-BLEU (Zhu et al. 2018, Texygen).

BLEU is sacrebleu's ``corpus_bleu`` with its defaults (13a tokenizer, exp smoothing), so numbers
are comparable with published sacrebleu scores; nothing is re-implemented here. Self-BLEU scores
each generation against all the others (sacrebleu sentence BLEU, multi-reference): high means the
generations repeat each other (low diversity).
"""

from __future__ import annotations

from typing import Sequence

import torch

from aigc.core.errors import BadInputError

__all__ = ["bleu", "self_bleu", "BLEU", "SelfBLEU"]


def _sacrebleu():  # imported lazily: sacrebleu is the optional ``aigc[metrics]`` extra
    try:
        import sacrebleu
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BadInputError("BLEU needs sacrebleu: pip install 'aigc[metrics]'") from exc
    return sacrebleu


def _check_refs(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
    if not hyps:
        raise BadInputError("BLEU: no hypotheses given")
    for i, stream in enumerate(refs):
        if len(stream) != len(hyps):
            raise BadInputError(f"BLEU: reference set {i} has {len(stream)} lines but there are "
                                f"{len(hyps)} hypotheses; they must pair line by line")


def bleu(hyps: Sequence[str], refs: Sequence[Sequence[str]] | Sequence[str], **kwargs: object) -> float:
    """sacrebleu corpus BLEU (0-100). ``refs`` is one list of references paired with ``hyps``, or a
    list of such lists (several references per hypothesis). ``kwargs`` go to ``sacrebleu.corpus_bleu``."""
    ref_streams = [list(refs)] if refs and isinstance(refs[0], str) else [list(r) for r in refs]
    _check_refs(hyps, ref_streams)
    return float(_sacrebleu().corpus_bleu(list(hyps), ref_streams, **kwargs).score)


def self_bleu(texts: Sequence[str], *, max_texts: int | None = 500,
              generator: torch.Generator | None = None) -> float:
    """Mean sentence BLEU (0-100) of each text against all the other texts as references.

    Cost grows as N^2: at most ``max_texts`` texts are used, drawn at random with ``generator``.
    """
    texts = list(texts)
    if len(texts) < 2:
        raise BadInputError(f"self-BLEU needs at least 2 texts, got {len(texts)}")
    if max_texts is not None and len(texts) > max_texts:
        idx = torch.randperm(len(texts), generator=generator)[:max_texts].tolist()
        texts = [texts[i] for i in sorted(idx)]
    sb = _sacrebleu()
    scores = [sb.sentence_bleu(t, texts[:i] + texts[i + 1:]).score for i, t in enumerate(texts)]
    return float(sum(scores) / len(scores))


class BLEU:
    """Accumulates hypotheses and references (BLEU is not a mean of per-batch scores)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.hyps: list[str] = []
        self.refs: list[list[str]] = []  # one list of references per hypothesis

    def update(self, hyps: Sequence[str], refs: Sequence[str] | Sequence[Sequence[str]]) -> None:
        """``refs[i]`` is the reference (str) or the references (list of str) of ``hyps[i]``."""
        if len(hyps) != len(refs):
            raise BadInputError(f"BLEU: {len(hyps)} hypotheses but {len(refs)} references")
        self.hyps.extend(hyps)
        self.refs.extend([r] if isinstance(r, str) else list(r) for r in refs)

    def merge(self, other: "BLEU") -> None:
        self.hyps.extend(other.hyps)
        self.refs.extend(other.refs)

    def compute(self) -> float:
        counts = {len(r) for r in self.refs}
        if len(counts) > 1:
            raise BadInputError(f"BLEU: every hypothesis needs the same number of references, got {sorted(counts)}")
        k = counts.pop() if counts else 0
        return bleu(self.hyps, [[r[j] for r in self.refs] for j in range(k)])


class SelfBLEU:
    """Accumulates texts; ``compute`` runs :func:`self_bleu` with a fixed seed."""

    def __init__(self, max_texts: int | None = 500, seed: int = 0) -> None:
        self.max_texts, self.seed = max_texts, seed
        self.reset()

    def reset(self) -> None:
        self.texts: list[str] = []

    def update(self, texts: Sequence[str]) -> None:
        self.texts.extend(texts)

    def merge(self, other: "SelfBLEU") -> None:
        self.texts.extend(other.texts)

    def compute(self) -> float:
        return self_bleu(self.texts, max_texts=self.max_texts, generator=torch.Generator().manual_seed(self.seed))
