"""Audio metrics: SNR / SI-SNR against torchmetrics and closed forms; IS and Fréchet distance over
recogniser outputs against their closed forms; class and functional forms agree; merges add up."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchmetrics.functional.audio import (
    scale_invariant_signal_noise_ratio,
    signal_noise_ratio,
)

from aigc.core.errors import BadInputError
from aigc.metrics.audio import (
    SISNR,
    SNR,
    AudioFeatureSpec,
    audio_distribution_metrics,
    real_floor,
    si_snr,
    snr,
)


def _pair(seed=0, n=3, t=800):
    g = torch.Generator().manual_seed(seed)
    ref = torch.randn(n, t, generator=g, dtype=torch.float64)
    return ref, ref + 0.3 * torch.randn(n, t, generator=g, dtype=torch.float64)


def test_snr_and_si_snr_match_torchmetrics():
    ref, est = _pair()
    torch.testing.assert_close(snr(ref, est), signal_noise_ratio(est, ref), atol=1e-6, rtol=0)
    torch.testing.assert_close(si_snr(ref, est), scale_invariant_signal_noise_ratio(est, ref), atol=1e-6, rtol=0)


def test_snr_closed_form_and_scale_invariance(tone):
    ref = torch.from_numpy(tone(440, 0.5)).double()
    noise = torch.from_numpy(tone(1000, 0.5, amp=0.05)).double()  # orthogonal to the reference
    assert float(snr(ref, ref + noise)) == pytest.approx(20 * math.log10(0.5 / 0.05), abs=1e-3)
    assert float(si_snr(ref, 3.0 * (ref + noise))) == pytest.approx(20.0, abs=1e-3)  # gain is forgiven
    assert float(snr(ref, 3.0 * (ref + noise))) < 0  # ... SNR is not


def test_classes_accumulate_and_merge():
    ref, est = _pair(n=6)
    whole, a, b = SISNR(), SISNR(), SISNR()
    whole.update(ref, est)
    a.update(ref[:2], est[:2])
    b.update(ref[2:], est[2:])
    a.merge(b)
    assert a.compute() == pytest.approx(whole.compute(), abs=1e-9)
    assert whole.compute() == pytest.approx(float(si_snr(ref, est).mean()), abs=1e-9)
    s = SNR()
    s.update(ref, est)
    assert s.compute() == pytest.approx(float(snr(ref, est).mean()), abs=1e-9)
    with pytest.raises(BadInputError):
        SNR().compute()
    with pytest.raises(BadInputError, match="same non-empty shape"):
        snr(ref, est[:, :10])


def test_inception_score_and_conditional_accuracy_closed_forms():
    k = 10
    confident = torch.eye(k).repeat(20, 1)  # every class equally often, each with certainty
    feats = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
    report = audio_distribution_metrics(confident, feats, feats, requested=torch.arange(k).repeat(20), splits=1)
    assert report["inception_score"] == pytest.approx(k, rel=1e-9)
    assert report["frechet_distance"] == pytest.approx(0.0, abs=1e-9)
    assert report["conditional_accuracy"] == 1.0
    uniform = torch.full((50, k), 1.0 / k)
    assert audio_distribution_metrics(uniform, feats[:50], feats)["inception_score"] == pytest.approx(1.0)
    wrong = audio_distribution_metrics(confident, feats, feats, requested=(torch.arange(k) + 1).repeat(20) % k)
    assert wrong["conditional_accuracy"] == 0.0


def test_frechet_floor_closed_form_for_shifted_gaussians():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(4000, 4, generator=g, dtype=torch.float64)
    b = torch.randn(4000, 4, generator=g, dtype=torch.float64)
    # same distribution: the floor is small; shifting by d adds |d|^2 exactly
    floor = real_floor(a, b)
    assert floor < 0.02
    assert real_floor(a, b + 2.0) == pytest.approx(floor + 16.0 + 2 * (2.0 * (b.mean(0) - a.mean(0))).sum().item(),
                                                   abs=1e-6)


def test_feature_spec_is_stated():
    spec = AudioFeatureSpec(name="r", weights_sha256="ab" * 8, sample_rate=8000, clip_samples=6016, feature_dim=128)
    probs = torch.softmax(torch.randn(20, 10, generator=torch.Generator().manual_seed(0)), 1)
    report = audio_distribution_metrics(probs, np.ones((20, 3)) + np.arange(20)[:, None] % 3, np.eye(20, 3), spec=spec)
    assert report["features"]["clip_seconds"] == pytest.approx(0.752)
    assert report["features"]["weights_sha256"] == "ab" * 8


def test_inception_score_splits_default_to_100_clips_each():
    from aigc.metrics import inception_score

    probs = torch.softmax(3 * torch.randn(300, 10, generator=torch.Generator().manual_seed(4)), 1)
    feats = torch.randn(300, 4, generator=torch.Generator().manual_seed(5))
    report = audio_distribution_metrics(probs, feats, feats)
    assert (report["inception_score"], report["inception_score_std"]) == inception_score(probs, splits=3)
    assert audio_distribution_metrics(probs[:60], feats[:60], feats)["inception_score"] == inception_score(
        probs[:60], splits=1)[0]
