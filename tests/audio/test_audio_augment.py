"""Augmentation: noise at an exact SNR, gain in dB, time shift, SpecAugment masks."""

from __future__ import annotations

import numpy as np
import torch

from aigc.audio.augment import add_noise, apply_gain, spec_augment, time_shift


def test_noise_lands_at_the_requested_snr(tone):
    clean = torch.from_numpy(np.stack([tone(440, 0.5), tone(900, 0.5, amp=0.05)]))
    noisy = add_noise(clean, torch.tensor([5.0, 20.0]), torch.Generator().manual_seed(0))
    noise = noisy - clean
    snr = 10 * torch.log10(clean.pow(2).mean(1) / noise.pow(2).mean(1))
    torch.testing.assert_close(snr, torch.tensor([5.0, 20.0]), atol=1e-3, rtol=0)
    again = add_noise(clean, torch.tensor([5.0, 20.0]), torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again)


def test_gain_in_decibels(tone):
    x = torch.from_numpy(tone(440, 0.1))[None].repeat(2, 1)
    y = apply_gain(x, torch.tensor([-6.0, 20.0]))
    torch.testing.assert_close(y[0], x[0] * 10 ** (-6 / 20))
    torch.testing.assert_close(y[1], x[1] * 10.0)


def test_time_shift_delays_with_zero_fill():
    x = torch.arange(1.0, 7.0).repeat(3, 1)
    y = time_shift(x, torch.tensor([2, -1, 0]))
    assert y[0].tolist() == [0, 0, 1, 2, 3, 4]
    assert y[1].tolist() == [2, 3, 4, 5, 6, 0]
    assert torch.equal(y[2], x[2])


def test_spec_augment_masks_whole_bands_within_widths():
    spec = torch.rand(16, 40, 48) + 1.0
    out = spec_augment(spec, freq_width=5, time_width=7, value=0.0, generator=torch.Generator().manual_seed(1))
    masked = out == 0
    full_rows = masked.all(dim=2)  # frequency bands: whole rows masked
    full_cols = masked.all(dim=1)  # time bands: whole columns masked
    assert (full_rows.sum(1) <= 5).all() and (full_cols.sum(1) <= 7).all()
    assert full_rows.any() and full_cols.any()
    union = full_rows[:, :, None] | full_cols[:, None, :]
    assert torch.equal(masked, union)  # nothing outside the bands changed
    assert torch.equal(out[~masked], spec[~masked])
