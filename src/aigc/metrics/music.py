"""Music metrics on ``(T, 88)`` piano-rolls: the JSB likelihood protocol and MusPy's set.

- :func:`framewise_nll` — nats per time step, summed over the 88 keys and averaged over steps
  (Boulanger-Lewandowski et al. 2012, the table of Chung et al. 2014: GRU 8.54, RNN-NADE 5.83 on
  JSB quarter notes). A model that predicts the keys one after another (NADE) gives each key's
  *conditional* probability, so the same Bernoulli sum is its exact log-likelihood.
- :func:`note_accuracy` — Bay et al. (2009) frame accuracy ``TP / (TP + FP + FN)`` over all steps.
- MusPy-style descriptors (Dong et al. 2020) of one piece: :func:`pitch_class_entropy`,
  :func:`polyphony`, :func:`scale_consistency`, :func:`empty_beat_rate`, :func:`pitch_range`;
  :func:`compare_sets` reports them for generated and reference pieces with the 1-Wasserstein
  distance between the two distributions of per-piece values.

Functions are pure numpy/torch; :class:`FramewiseNLL` only accumulates sums and counts.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from aigc.data.music import note_spans

__all__ = [
    "framewise_nll", "frame_nll_sum", "FramewiseNLL", "note_accuracy", "pitch_class_entropy",
    "polyphony", "scale_consistency", "empty_beat_rate", "pitch_range", "wasserstein_1d",
    "music_descriptors", "compare_sets", "DESCRIPTORS",
]

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor, as MusPy's scale_consistency


def frame_nll_sum(logits: torch.Tensor, roll: torch.Tensor,
                  mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed NLL (nats) over keys and valid steps, and the number of valid steps.

    ``logits`` and ``roll`` are ``(..., T, 88)``; ``mask`` ``(..., T)`` is 1 on real steps.
    """
    per_key = F.binary_cross_entropy_with_logits(logits.float(), roll.float(), reduction="none")
    per_step = per_key.sum(-1)
    if mask is None:
        return per_step.sum(), torch.tensor(float(per_step.numel()))
    mask = mask.float()
    return (per_step * mask).sum(), mask.sum()


def framewise_nll(logits: torch.Tensor, roll: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean NLL per time step in nats: ``-sum_k [x log p + (1 - x) log(1 - p)]`` averaged over
    steps, with ``p = sigmoid(logits)`` the probability of each key given everything before it."""
    total, count = frame_nll_sum(logits.detach(), roll, mask)
    return float(total / count.clamp(min=1))


class FramewiseNLL:
    """Accumulates :func:`frame_nll_sum` over batches/pieces; ``merge`` adds another's state."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update(self, logits: torch.Tensor, roll: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        total, count = frame_nll_sum(logits.detach(), roll, mask)
        self.total += float(total)
        self.count += float(count)

    def merge(self, other: "FramewiseNLL") -> "FramewiseNLL":
        self.total += other.total
        self.count += other.count
        return self

    def compute(self) -> float:
        return self.total / self.count if self.count else math.nan


def note_accuracy(pred: np.ndarray, target: np.ndarray) -> float:
    """Frame-level accuracy ``TP / (TP + FP + FN)`` summed over all steps (Bay et al. 2009)."""
    pred, target = np.asarray(pred, dtype=bool), np.asarray(target, dtype=bool)
    tp = np.sum(pred & target)
    denom = tp + np.sum(pred & ~target) + np.sum(~pred & target)
    return float(tp / denom) if denom else 1.0


def pitch_class_entropy(roll: np.ndarray) -> float:
    """Entropy (bits) of the pitch-class histogram of the notes (MusPy); nan without notes."""
    _, _, pitches = note_spans(roll)
    if len(pitches) == 0:
        return math.nan
    p = np.bincount(pitches % 12, minlength=12) / len(pitches)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def polyphony(roll: np.ndarray) -> float:
    """Mean number of keys sounding over the steps where at least one sounds (MusPy)."""
    counts = np.asarray(roll, dtype=bool).sum(axis=1)
    counts = counts[counts > 0]
    return float(counts.mean()) if len(counts) else math.nan


def scale_consistency(roll: np.ndarray) -> float:
    """Largest fraction of notes inside one major or natural-minor scale over the 24 (MusPy)."""
    _, _, pitches = note_spans(roll)
    if len(pitches) == 0:
        return math.nan
    hist = np.bincount(pitches % 12, minlength=12)
    best = max(hist[(scale + root) % 12].sum() for root in range(12) for scale in (MAJOR, MINOR))
    return float(best / len(pitches))


def empty_beat_rate(roll: np.ndarray, steps_per_beat: int) -> float:
    """Fraction of beats (``steps_per_beat`` steps each; a last partial beat counts) in which no
    key sounds (MusPy's empty-beat rate, on sounding steps)."""
    roll = np.asarray(roll, dtype=bool)
    if len(roll) == 0:
        return math.nan
    n_beats = -(-len(roll) // steps_per_beat)
    sounding = np.zeros(n_beats * steps_per_beat, dtype=bool)
    sounding[:len(roll)] = roll.any(axis=1)
    return float((~sounding.reshape(n_beats, steps_per_beat).any(axis=1)).mean())


def pitch_range(roll: np.ndarray) -> float:
    """Highest minus lowest sounding MIDI pitch in semitones (MusPy); nan without notes."""
    cols = np.flatnonzero(np.asarray(roll, dtype=bool).any(axis=0))
    return float(cols[-1] - cols[0]) if len(cols) else math.nan


def wasserstein_1d(a: Sequence[float], b: Sequence[float]) -> float:
    """1-Wasserstein (earth mover's) distance between two samples of numbers: the area between
    their empirical CDFs. NaNs are dropped; nan when either sample is empty."""
    a = np.sort(np.asarray([x for x in a if not math.isnan(x)], dtype=np.float64))
    b = np.sort(np.asarray([x for x in b if not math.isnan(x)], dtype=np.float64))
    if len(a) == 0 or len(b) == 0:
        return math.nan
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(a, grid[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, grid[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(grid)))


DESCRIPTORS = ("pitch_class_entropy", "polyphony", "scale_consistency", "empty_beat_rate", "pitch_range")


def music_descriptors(roll: np.ndarray, steps_per_beat: int) -> dict[str, float]:
    """The five MusPy-style descriptors of one piece."""
    return {"pitch_class_entropy": pitch_class_entropy(roll), "polyphony": polyphony(roll),
            "scale_consistency": scale_consistency(roll),
            "empty_beat_rate": empty_beat_rate(roll, steps_per_beat), "pitch_range": pitch_range(roll)}


def _mean(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(np.mean(vals)) if vals else math.nan


def compare_sets(generated: Iterable[np.ndarray], reference: Iterable[np.ndarray],
                 steps_per_beat: int) -> dict[str, dict[str, float]]:
    """For each descriptor: the mean over generated pieces, over reference pieces, and the
    1-Wasserstein distance between the two per-piece distributions (same units as the value)."""
    gen = [music_descriptors(r, steps_per_beat) for r in generated]
    ref = [music_descriptors(r, steps_per_beat) for r in reference]
    out = {}
    for name in DESCRIPTORS:
        g, r = [d[name] for d in gen], [d[name] for d in ref]
        out[name] = {"generated": _mean(g), "reference": _mean(r), "wasserstein": wasserstein_1d(g, r)}
    return out
