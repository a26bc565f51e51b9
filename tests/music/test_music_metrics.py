"""Music metrics against direct computations and reference libraries (numpy, scipy, pretty_midi)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from aigc.data.midi import roll_to_midi
from aigc.data.music import pitches_to_roll
from aigc.metrics.music import (
    FramewiseNLL,
    compare_sets,
    empty_beat_rate,
    framewise_nll,
    note_accuracy,
    pitch_class_entropy,
    pitch_range,
    polyphony,
    scale_consistency,
    wasserstein_1d,
)


def _random_case(seed: int, t: int = 37):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, t, 88, generator=g) * 3
    roll = (torch.rand(2, t, 88, generator=g) < 0.05).float()
    mask = torch.ones(2, t)
    mask[1, t - 10:] = 0
    return logits, roll, mask


def test_framewise_nll_equals_direct_numpy():
    logits, roll, mask = _random_case(0)
    p = 1 / (1 + np.exp(-logits.double().numpy()))
    x = roll.numpy()
    per_step = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(-1)  # nats summed over 88 keys
    m = mask.numpy()
    expected = (per_step * m).sum() / m.sum()
    assert framewise_nll(logits, roll, mask) == pytest.approx(expected, rel=1e-5)
    assert framewise_nll(logits, roll) == pytest.approx(per_step.mean(), rel=1e-5)


def test_framewise_nll_class_merges_halves_like_one_update():
    logits, roll, mask = _random_case(1)
    whole = FramewiseNLL()
    whole.update(logits, roll, mask)
    a, b = FramewiseNLL(), FramewiseNLL()
    a.update(logits[:1], roll[:1], mask[:1])
    b.update(logits[1:], roll[1:], mask[1:])
    assert a.merge(b).compute() == pytest.approx(whole.compute(), rel=1e-6)
    assert whole.compute() == pytest.approx(framewise_nll(logits, roll, mask), rel=1e-6)
    whole.reset()
    assert math.isnan(whole.compute())


def test_note_accuracy_counts():
    target = np.zeros((3, 88), bool)
    pred = np.zeros((3, 88), bool)
    target[0, [10, 20]] = True
    pred[0, [10, 30]] = True  # 1 TP, 1 FP, 1 FN
    target[1, 5] = pred[1, 5] = True  # 1 TP
    assert note_accuracy(pred, target) == pytest.approx(2 / 4)
    assert note_accuracy(np.zeros((2, 88), bool), np.zeros((2, 88), bool)) == 1.0


def _piece():
    steps = [[60, 64, 67], [60, 64, 67], [62, 65, 69], [], [], [], [], [59, 62, 67, 74], [61], [61]]
    return pitches_to_roll(steps)


def test_descriptors_against_pretty_midi_and_scipy():
    roll = _piece()
    pm = roll_to_midi(roll, steps_per_beat=2)
    notes = pm.instruments[0].notes
    hist = pm.get_pitch_class_histogram(use_duration=False, normalize=True)  # counts notes
    assert pitch_class_entropy(roll) == pytest.approx(scipy.stats.entropy(hist, base=2))
    assert pitch_range(roll) == max(n.pitch for n in notes) - min(n.pitch for n in notes)
    counts = roll.sum(1)
    assert polyphony(roll) == pytest.approx(counts[counts > 0].mean())
    # beats of 2 steps: [0,1] [2,3] [4,5] [6,7] [8,9] -> beat 2 is silent
    assert empty_beat_rate(roll, 2) == pytest.approx(1 / 5)
    # C major holds every note but C#: (notes - 1) / notes
    n = len(notes)
    assert scale_consistency(roll) == pytest.approx((n - 1) / n)


def test_scale_consistency_closed_forms():
    c_major = pitches_to_roll([[p] for p in (60, 62, 64, 65, 67, 69, 71)])
    chromatic = pitches_to_roll([[p] for p in range(60, 72)])
    assert scale_consistency(c_major) == 1.0
    assert scale_consistency(chromatic) == pytest.approx(7 / 12)
    assert math.isnan(pitch_class_entropy(np.zeros((4, 88), bool)))


def test_wasserstein_equals_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=40), rng.normal(1.0, 2.0, size=25)
    assert wasserstein_1d(a, b) == pytest.approx(scipy.stats.wasserstein_distance(a, b))
    assert wasserstein_1d([1.0, float("nan")], [3.0]) == pytest.approx(2.0)


def test_compare_sets_of_identical_sets_is_zero_distance():
    pieces = [_piece(), pitches_to_roll([[48, 55, 64]] * 6)]
    out = compare_sets(pieces, pieces, steps_per_beat=2)
    assert set(out) == {"pitch_class_entropy", "polyphony", "scale_consistency", "empty_beat_rate", "pitch_range"}
    for v in out.values():
        assert v["wasserstein"] == 0.0 and v["generated"] == v["reference"]
    shifted = compare_sets([pitches_to_roll([[60, 72]] * 4)], [pitches_to_roll([[60, 62]] * 4)], 2)
    assert shifted["pitch_range"]["wasserstein"] == pytest.approx(10.0)
