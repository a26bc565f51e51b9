"""Text corpora: encoding repair (ftfy), Unicode NFC, exact and near-duplicate lines / paragraphs.

Units are paragraphs (blocks separated by blank lines) when a file has any, else lines. A unit
that equals an earlier one after whitespace folding is an exact duplicate; one whose character
5-gram set has Jaccard similarity >= ``near_jaccard`` with an earlier kept unit is a near duplicate.
Candidates come from MinHash LSH (Broder 1997; bands as in Leskovec et al., *Mining of Massive
Datasets* ch. 3) and are confirmed with the exact Jaccard, so the verdicts do not depend on the
hash draws. Units shorter than ``min_near_chars`` are only checked for exact duplicates.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aigc.core.errors import BadInputError
from aigc.data.clean.common import Drop, KindReport

__all__ = ["MinHasher", "TextRules", "clean_texts", "jaccard", "repair", "shingles", "split_units"]

_PRIME = (1 << 31) - 1  # hashes are reduced below it so a * x + b fits in int64


@dataclass(kw_only=True)
class TextRules:
    near_jaccard: float = 0.8
    shingle: int = 5
    num_perm: int = 128
    bands: int = 32
    min_near_chars: int = 20


def shingles(text: str, k: int = 5) -> set[str]:
    """Character k-grams of ``text`` with case and whitespace folded."""
    t = re.sub(r"\s+", " ", text.lower()).strip()
    return {t[i:i + k] for i in range(max(1, len(t) - k + 1))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class MinHasher:
    """MinHash signatures with ``num_perm`` universal hash functions ``(a x + b) mod p`` from a seed."""

    def __init__(self, num_perm: int = 128, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, _PRIME, num_perm, dtype=np.int64)
        self.b = rng.integers(0, _PRIME, num_perm, dtype=np.int64)

    def signature(self, grams: set[str]) -> np.ndarray:
        """(num_perm,) int64: the minimum of each hash function over the shingles."""
        x = np.array([int.from_bytes(hashlib.blake2b(g.encode("utf-8"), digest_size=8).digest(), "little")
                      % _PRIME for g in grams], dtype=np.int64)
        return ((np.outer(x, self.a) + self.b) % _PRIME).min(axis=0)

    @staticmethod
    def estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
        """The MinHash estimate of the Jaccard similarity: the fraction of equal minima."""
        return float(np.mean(sig_a == sig_b))


def repair(raw: bytes, name: str) -> tuple[str, list[str]]:
    """Decode ``raw`` and repair it; returns the text and what was repaired ("decoded_cp1252",
    "mojibake", "nfc")."""
    import ftfy

    fixes: list[str] = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        fixes.append("decoded_cp1252")
    # typography is the author's: curly quotes, ligatures and full-width forms are kept
    unmangled = ftfy.fix_text(text, uncurl_quotes=False, fix_latin_ligatures=False,
                              fix_character_width=False, normalization=None)
    if unmangled != text:
        fixes.append("mojibake")
    fixed = unicodedata.normalize("NFC", unmangled)
    if fixed != unmangled:
        fixes.append("nfc")
    if not fixed and raw:
        raise BadInputError(f"{name}: decoded to nothing; is it a text file?")
    return fixed, fixes


def split_units(text: str) -> tuple[list[str], str]:
    """(units, separator): paragraphs joined by a blank line, else lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if re.search(r"\n[ \t]*\n", text.strip("\n")):
        return [p.strip("\n") for p in re.split(r"\n[ \t]*\n+", text.strip("\n")) if p.strip()], "\n\n"
    return [line for line in text.split("\n") if line.strip()], "\n"


class _Index:
    """Kept units' shingles and LSH buckets, across every file of the corpus."""

    def __init__(self, rules: TextRules) -> None:
        self.rules, self.hasher = rules, MinHasher(rules.num_perm)
        self.exact: dict[str, str] = {}
        self.grams: list[tuple[str, set[str]]] = []
        self.buckets: dict[tuple[int, bytes], list[int]] = {}

    def verdict(self, unit: str, where: str) -> tuple[str, str] | None:
        key = re.sub(r"\s+", " ", unit).strip()
        if key in self.exact:
            return "exact_duplicate", f"same as {self.exact[key]}"
        self.exact[key] = where
        if len(key) < self.rules.min_near_chars:
            return None
        grams = shingles(key, self.rules.shingle)
        sig = self.hasher.signature(grams)
        rows = self.rules.num_perm // self.rules.bands
        keys = [(b, sig[b * rows:(b + 1) * rows].tobytes()) for b in range(self.rules.bands)]
        seen: set[int] = set()
        for k in keys:
            for idx in self.buckets.get(k, ()):
                if idx in seen:
                    continue
                seen.add(idx)
                sim = jaccard(grams, self.grams[idx][1])
                if sim >= self.rules.near_jaccard:
                    return "near_duplicate", f"Jaccard {sim:.2f} with {self.grams[idx][0]}"
        for k in keys:
            self.buckets.setdefault(k, []).append(len(self.grams))
        self.grams.append((where, grams))
        return None


def clean_texts(files: list[tuple[Path, str]], rules: TextRules | None = None
                ) -> tuple[KindReport, dict[str, str]]:
    """Clean ``(path, rel)`` text files; returns the report and ``rel -> cleaned text``.

    Records (``scanned``/``kept``) are units; ``repaired`` counts files per repair.
    """
    rules = rules or TextRules()
    report = KindReport("text")
    index = _Index(rules)
    out: dict[str, str] = {}
    for path, rel in files:
        text, fixes = repair(path.read_bytes(), rel)
        for fix in fixes:
            report.repaired[fix] = report.repaired.get(fix, 0) + 1
        units, sep = split_units(text)
        kept: list[str] = []
        for i, unit in enumerate(units, 1):
            where = f"{rel}:{'paragraph' if sep == chr(10) * 2 else 'line'} {i}"
            verdict = index.verdict(unit, where)
            if verdict is None:
                kept.append(unit)
            else:
                report.drops.append(Drop(where, verdict[0], f"{verdict[1]}: {unit[:80]!r}"))
        report.scanned += len(units)
        report.kept += len(kept)
        out[rel] = sep.join(kept) + ("\n" if kept else "")
    return report, out
