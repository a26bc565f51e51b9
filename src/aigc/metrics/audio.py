"""Audio metrics: SNR and scale-invariant SNR of waveforms, and the distribution metrics of
generated audio in a recogniser's features (Inception Score, Fréchet distance, conditional
accuracy, the real-vs-real floor).

The distribution metrics reuse the image maths (:mod:`aigc.metrics.image_fid`,
:mod:`aigc.metrics.image_is`, :mod:`aigc.metrics.image_coverage`); only the feature network differs,
and every report states it as :class:`AudioFeatureSpec` (weights hash, sample rate, clip length).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.metrics.image_coverage import conditional_accuracy
from aigc.metrics.image_fid import frechet_distance
from aigc.metrics.image_is import inception_score

__all__ = ["SISNR", "SNR", "AudioFeatureSpec", "audio_distribution_metrics", "real_floor", "si_snr", "snr"]


def _pair(reference: Any, estimate: Any) -> tuple[torch.Tensor, torch.Tensor]:
    ref = torch.as_tensor(reference).double()
    est = torch.as_tensor(estimate).double()
    if ref.shape != est.shape or ref.ndim == 0 or ref.shape[-1] == 0:
        raise BadInputError(f"SNR: reference {tuple(ref.shape)} and estimate {tuple(est.shape)} must have "
                            f"the same non-empty shape (..., T)")
    return ref, est


def snr(reference: Any, estimate: Any) -> torch.Tensor:
    """Signal-to-noise ratio in dB, ``10 log10(|s|^2 / |s - s_hat|^2)`` over the last axis: (...,)."""
    ref, est = _pair(reference, estimate)
    eps = torch.finfo(torch.float64).eps
    return 10 * torch.log10((ref.pow(2).sum(-1) + eps) / ((ref - est).pow(2).sum(-1) + eps))


def si_snr(reference: Any, estimate: Any) -> torch.Tensor:
    """Scale-invariant SNR in dB (Le Roux et al. 2019): both zero-mean, the estimate projected onto
    the reference, ``10 log10(|s_t|^2 / |s_hat - s_t|^2)`` with ``s_t = <s_hat, s> s / |s|^2``: (...,)."""
    ref, est = _pair(reference, estimate)
    ref = ref - ref.mean(-1, keepdim=True)
    est = est - est.mean(-1, keepdim=True)
    eps = torch.finfo(torch.float64).eps
    target = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + eps) * ref
    return 10 * torch.log10((target.pow(2).sum(-1) + eps) / ((est - target).pow(2).sum(-1) + eps))


class _MeanOf:
    """Accumulates the mean of a per-signal metric (sum and count; merged by addition)."""

    fn = staticmethod(snr)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, reference: Any, estimate: Any) -> None:
        values = type(self).fn(reference, estimate).reshape(-1)
        self.total += float(values.sum())
        self.count += values.numel()

    def merge(self, other: _MeanOf) -> None:
        self.total += other.total
        self.count += other.count

    def compute(self) -> float:
        if not self.count:
            raise BadInputError(f"{type(self).__name__}: no signals were added")
        return self.total / self.count


class SNR(_MeanOf):
    """Mean :func:`snr` over every signal added."""

    fn = staticmethod(snr)


class SISNR(_MeanOf):
    """Mean :func:`si_snr` over every signal added."""

    fn = staticmethod(si_snr)


@dataclass(frozen=True)
class AudioFeatureSpec:
    """The convention behind audio IS/FD numbers: which recogniser, at which rate and clip length."""

    name: str  # e.g. "fsdd-recognizer"
    weights_sha256: str  # content hash of the recogniser (config + weights)
    sample_rate: int
    clip_samples: int
    feature_dim: int

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "clip_seconds": self.clip_samples / self.sample_rate}


def audio_distribution_metrics(fake_probs: Any, fake_features: Any, real_features: Any, *,
                               requested: Any | None = None, spec: AudioFeatureSpec | None = None,
                               splits: int | None = None) -> dict[str, Any]:
    """IS of generated clips (from the recogniser's (N, K) probabilities), Fréchet distance of their
    (N, D) features to real ones, and the conditional accuracy when the requested (N,) digits are given.

    ``splits`` defaults to one per 100 clips, at most 10 (Salimans et al. use 10 of 5,000): a split
    estimates the class marginal from its own clips, so tiny splits bias IS low, and the 300 real
    test clips would otherwise be scored on splits of 30 while 1,000 generated ones get 100.
    """
    probs = torch.as_tensor(fake_probs)
    splits = splits if splits is not None else max(1, min(10, probs.shape[0] // 100))
    is_mean, is_std = inception_score(probs, splits=min(splits, probs.shape[0]))
    report: dict[str, Any] = {
        "inception_score": is_mean, "inception_score_std": is_std,
        "frechet_distance": frechet_distance(real_features, fake_features),
        "n_fake": int(probs.shape[0]), "n_real": int(torch.as_tensor(real_features).shape[0]),
    }
    if requested is not None:
        report["conditional_accuracy"] = conditional_accuracy(probs, requested)
    if spec is not None:
        report["features"] = spec.describe()
    return report


def real_floor(features_a: Any, features_b: Any) -> float:
    """Fréchet distance between two real sets (e.g. test vs an equal-sized train sample): the value
    a perfect generator would reach, given the sampling noise of this many clips."""
    return frechet_distance(features_a, features_b)
