"""Perplexity, BLEU (= sacrebleu), self-BLEU and distinct-n."""

from __future__ import annotations

import math

import pytest
sacrebleu = pytest.importorskip("sacrebleu", reason="BLEU needs the aigc[metrics] extra")

from aigc.core.errors import BadInputError
from aigc.metrics import BLEU, DistinctN, Perplexity, SelfBLEU, bleu, distinct_n, perplexity, self_bleu

HYPS = ["the cat sat on the mat", "a dog ran in the park today", "it is raining again", "the the the"]
REFS = ["the cat is on the mat", "a dog runs in the park", "it is raining again", "there is a cat"]


def test_perplexity_closed_form_class_merge() -> None:
    assert perplexity(4 * math.log(7), 4) == pytest.approx(7.0)
    nll = [0.5, 1.0, 2.0, 0.25, 3.0]
    ref = math.exp(sum(nll) / len(nll))
    h1, h2 = Perplexity(), Perplexity()
    h1.update(nll[:2])
    h2.update(sum(nll[2:]), n_tokens=3)
    h1.merge(h2)
    assert h1.compute() == pytest.approx(ref)
    with pytest.raises(BadInputError):
        perplexity(1.0, 0)


def test_bleu_equals_sacrebleu_and_class_merge() -> None:
    ref = sacrebleu.corpus_bleu(HYPS, [REFS]).score
    assert bleu(HYPS, REFS) == pytest.approx(ref)
    assert bleu(HYPS, [REFS, HYPS]) == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS, HYPS]).score)
    h1, h2 = BLEU(), BLEU()
    h1.update(HYPS[:2], REFS[:2])
    h2.update(HYPS[2:], REFS[2:])
    h1.merge(h2)
    assert h1.compute() == pytest.approx(ref)
    with pytest.raises(BadInputError):
        bleu(HYPS, REFS[:2])


def test_self_bleu() -> None:
    ref = sum(sacrebleu.sentence_bleu(h, HYPS[:i] + HYPS[i + 1:]).score for i, h in enumerate(HYPS)) / len(HYPS)
    assert self_bleu(HYPS) == pytest.approx(ref)
    assert self_bleu(["same words here"] * 3) == pytest.approx(100.0)
    h1, h2 = SelfBLEU(), SelfBLEU()
    h1.update(HYPS[:1])
    h2.update(HYPS[1:])
    h1.merge(h2)
    assert h1.compute() == pytest.approx(ref)


def test_distinct_n_hand_counted_and_merge() -> None:
    texts = ["a b a b", "a b c"]
    # bigrams: (a,b),(b,a),(a,b) | (a,b),(b,c) -> 3 distinct of 5
    assert distinct_n(texts, 2) == pytest.approx(3 / 5)
    assert distinct_n(texts, 1) == pytest.approx(3 / 7)
    assert distinct_n(["你好你好"], 1, tokenize=list) == pytest.approx(2 / 4)
    h1, h2 = DistinctN(2), DistinctN(2)
    h1.update(texts[:1])
    h2.update(texts[1:])
    h1.merge(h2)
    assert h1.compute() == pytest.approx(3 / 5)
    assert distinct_n([], 2) == 0.0
