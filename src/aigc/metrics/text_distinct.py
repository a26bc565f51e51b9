"""distinct-n (Li et al. 2016): unique n-grams / total n-grams over a corpus of generations.

Tokens are whitespace-separated words by default; pass ``tokenize=list`` for characters
(e.g. Chinese text without spaces).
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from aigc.core.errors import BadInputError

__all__ = ["ngrams", "distinct_n", "DistinctN"]

Tokenizer = Callable[[str], Sequence[str]]


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """All contiguous n-grams of a token sequence."""
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def _check_n(n: int) -> None:
    if n < 1:
        raise BadInputError(f"distinct-n: n must be >= 1, got {n}")


def distinct_n(texts: Iterable[str], n: int = 2, tokenize: Tokenizer = str.split) -> float:
    """Number of distinct n-grams divided by the number of n-grams in all ``texts`` (0 when none)."""
    metric = DistinctN(n, tokenize)
    metric.update(texts)
    return metric.compute()


class DistinctN:
    """Accumulates the set of seen n-grams and the n-gram count; merging unions the sets (exact)."""

    def __init__(self, n: int = 2, tokenize: Tokenizer = str.split) -> None:
        _check_n(n)
        self.n, self.tokenize = n, tokenize
        self.reset()

    def reset(self) -> None:
        self.seen: set[tuple[str, ...]] = set()
        self.total = 0

    def update(self, texts: Iterable[str]) -> None:
        if isinstance(texts, str):
            raise BadInputError("distinct-n: pass a list of texts, not a single string")
        for text in texts:
            grams = ngrams(self.tokenize(text), self.n)
            self.seen.update(grams)
            self.total += len(grams)

    def merge(self, other: "DistinctN") -> None:
        if other.n != self.n:
            raise BadInputError(f"distinct-n: cannot merge n={other.n} into n={self.n}")
        self.seen |= other.seen
        self.total += other.total

    def compute(self) -> float:
        return len(self.seen) / self.total if self.total else 0.0
