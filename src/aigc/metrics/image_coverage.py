"""Class coverage and mode collapse: the class histogram of samples (as labelled by a classifier),
how many classes (modes) are covered, KL(histogram || uniform), and the accuracy of class-
conditional samples (does a sample asked to be class c get classified as c?).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from aigc.core.errors import BadInputError

__all__ = ["class_histogram", "class_coverage", "conditional_accuracy", "ClassCoverage", "ConditionalAccuracy"]


def _labels(x: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(x)
    if t.ndim == 2:  # (N, K) probabilities or logits -> predicted class
        t = t.argmax(dim=1)
    if t.ndim != 1:
        raise BadInputError(f"{name}: expected (N,) labels or (N, K) scores, got shape {tuple(t.shape)}")
    return t.long()


def class_histogram(labels: Any, num_classes: int) -> torch.Tensor:
    """(K,) int64 counts of (N,) predicted labels (or (N, K) scores, argmax taken)."""
    t = _labels(labels, "class histogram")
    if t.numel() and (t.min() < 0 or t.max() >= num_classes):
        raise BadInputError(f"class histogram: labels must lie in [0, {num_classes}), got [{t.min()}, {t.max()}]")
    return torch.bincount(t, minlength=num_classes)


def _coverage_from_counts(counts: torch.Tensor, min_count: int) -> dict[str, Any]:
    total = int(counts.sum())
    if total == 0:
        raise BadInputError("class coverage: no samples")
    p = counts.double() / total
    k = counts.numel()
    kl = float((torch.xlogy(p, p) - p * math.log(1.0 / k)).sum())
    return {
        "histogram": counts.tolist(),
        "modes_covered": int((counts >= min_count).sum()),
        "num_classes": k,
        "kl_to_uniform": kl,
    }


def class_coverage(labels: Any, num_classes: int, min_count: int = 1) -> dict[str, Any]:
    """Histogram, number of classes with at least ``min_count`` samples, and KL(hist || uniform) in nats
    (0 = perfectly balanced, log K = every sample in one class)."""
    return _coverage_from_counts(class_histogram(labels, num_classes), min_count)


def conditional_accuracy(predicted: Any, requested: Any) -> float:
    """Share of class-conditional samples whose predicted class equals the requested class."""
    p, r = _labels(predicted, "predicted"), _labels(requested, "requested")
    if p.shape != r.shape or p.numel() == 0:
        raise BadInputError(f"conditional accuracy: {p.numel()} predictions for {r.numel()} requested labels")
    return float((p == r).double().mean())


class ClassCoverage:
    """Accumulates class counts; ``compute`` returns :func:`class_coverage`'s dict."""

    def __init__(self, num_classes: int, min_count: int = 1) -> None:
        self.num_classes, self.min_count = num_classes, min_count
        self.reset()

    def reset(self) -> None:
        self.counts = torch.zeros(self.num_classes, dtype=torch.int64)

    def update(self, labels: Any) -> None:
        self.counts += class_histogram(labels, self.num_classes)

    def merge(self, other: "ClassCoverage") -> None:
        self.counts += other.counts

    def compute(self) -> dict[str, Any]:
        return _coverage_from_counts(self.counts, self.min_count)


class ConditionalAccuracy:
    """Accumulates correct and total counts of class-conditional samples."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct, self.total = 0, 0

    def update(self, predicted: Any, requested: Any) -> None:
        p, r = _labels(predicted, "predicted"), _labels(requested, "requested")
        conditional_accuracy(p, r)  # validates the pairing
        self.correct += int((p == r).sum())
        self.total += r.numel()

    def merge(self, other: "ConditionalAccuracy") -> None:
        self.correct += other.correct
        self.total += other.total

    def compute(self) -> float:
        return self.correct / self.total if self.total else float("nan")
