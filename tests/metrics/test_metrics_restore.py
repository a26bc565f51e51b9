"""PSNR and SSIM: scikit-image references, a hand-computed Y-PSNR, class = functional, merge."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from aigc.core.errors import BadInputError
from aigc.metrics import PSNR, SSIM, psnr, rgb_to_y, ssim


def _pair(seed: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = rng.random(shape)
    return np.clip(gt + 0.08 * rng.standard_normal(shape), 0, 1), gt


def test_ssim_matches_skimage_grey_and_rgb() -> None:
    pred, gt = _pair(0, (33, 41))
    ref = structural_similarity(gt, pred, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    assert ssim(pred, gt) == pytest.approx(ref, abs=1e-4)
    pred, gt = _pair(1, (3, 30, 29))
    ref = structural_similarity(gt * 255, pred * 255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255.0, channel_axis=0)
    assert ssim(pred * 255, gt * 255, data_range=255.0) == pytest.approx(ref, abs=1e-4)


def test_psnr_matches_skimage_rgb() -> None:
    pred, gt = _pair(2, (3, 20, 20))
    assert psnr(pred, gt) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=1.0), rel=1e-10)


def test_y_psnr_hand_computed() -> None:
    gt = torch.zeros(1, 3, 8, 8, dtype=torch.float64)
    pred = gt.clone()
    pred[:, 1] = 0.5  # green +0.5 everywhere: Y differs by 128.553 * 0.5 / 255 inside the shaved crop
    dy = 128.553 * 0.5 / 255.0
    expected = 10 * math.log10(1.0 / dy**2)
    assert psnr(pred, gt, y_channel=True, shave=2) == pytest.approx(expected, rel=1e-12)
    assert float(rgb_to_y(torch.ones(1, 3, 1, 1))) == pytest.approx(235 / 255)
    assert float(rgb_to_y(torch.zeros(1, 3, 1, 1))) == pytest.approx(16 / 255)


def test_shave_crops_border() -> None:
    gt = torch.zeros(1, 1, 10, 10, dtype=torch.float64)
    pred = gt.clone()
    pred[..., 0, :] = 1.0  # error only in the border row
    assert math.isinf(psnr(pred, gt, shave=1))
    assert psnr(pred, gt, shave=0) == pytest.approx(10.0)


@pytest.mark.parametrize("cls,fn", [(PSNR, psnr), (SSIM, ssim)])
def test_class_equals_functional_and_merge(cls, fn) -> None:
    pred, gt = _pair(3, (6, 3, 16, 16))
    ref = fn(pred, gt, y_channel=True, shave=2)
    full, h1, h2 = (cls(y_channel=True, shave=2) for _ in range(3))
    full.update(pred, gt)
    h1.update(pred[:2], gt[:2])
    h2.update(pred[2:], gt[2:])
    h1.merge(h2)
    assert full.compute() == pytest.approx(ref, rel=1e-12)
    assert h1.compute() == pytest.approx(ref, rel=1e-12)


def test_bad_shapes() -> None:
    with pytest.raises(BadInputError):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(BadInputError):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(BadInputError):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)), shave=2)
