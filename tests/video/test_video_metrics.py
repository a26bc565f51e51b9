"""Video metrics against direct computations: OpenSTL's MSE formula, scikit-image SSIM/PSNR."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from aigc.core.errors import BadInputError
from aigc.metrics.video import VideoPredictionMetrics, frame_mse, video_frame_scores, video_prediction_scores


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    true = rng.random((3, 4, 1, 16, 16))
    pred = np.clip(true + rng.normal(0, 0.1, true.shape), 0, 1)
    return pred, true


def test_mse_is_openstl_formula(pair):
    pred, true = pair
    openstl = np.mean((pred - true) ** 2, axis=(0, 1)).sum()  # OpenSTL's metrics.MSE on (N, T, C, H, W)
    assert frame_mse(pred, true) == pytest.approx(openstl, rel=1e-12)
    scores = video_prediction_scores(torch.from_numpy(pred), torch.from_numpy(true))
    assert scores["mse"] == pytest.approx(openstl, rel=1e-12)
    per_step = ((pred - true) ** 2).sum(axis=(2, 3, 4)).mean(axis=0)
    np.testing.assert_allclose(scores["mse_per_step"], per_step, rtol=1e-12)
    mae = np.abs(pred - true).sum(axis=(2, 3, 4)).mean()
    assert scores["mae"] == pytest.approx(mae, rel=1e-12)
    # (N, T, H, W) input means one channel
    assert frame_mse(pred[:, :, 0], true[:, :, 0]) == pytest.approx(openstl, rel=1e-12)


def test_ssim_psnr_per_frame_match_scikit_image(pair):
    pred, true = pair
    scores = video_frame_scores(pred, true)
    for n in range(3):
        for t in range(4):
            ref_ssim = structural_similarity(true[n, t, 0], pred[n, t, 0], data_range=1.0,
                                             gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
            ref_psnr = peak_signal_noise_ratio(true[n, t, 0], pred[n, t, 0], data_range=1.0)
            assert float(scores["ssim"][n, t]) == pytest.approx(ref_ssim, abs=1e-9)
            assert float(scores["psnr"][n, t]) == pytest.approx(ref_psnr, abs=1e-9)


def test_merged_halves_equal_one_update(pair):
    pred, true = pair
    whole = VideoPredictionMetrics()
    whole.update(pred, true)
    a, b = VideoPredictionMetrics(), VideoPredictionMetrics()
    a.update(pred[:1], true[:1])
    b.update(pred[1:], true[1:])
    a.merge(b)
    left, right = whole.compute(), a.compute()
    for key in ("mse", "mae", "ssim", "psnr"):
        assert left[key] == pytest.approx(right[key], rel=1e-12)
        np.testing.assert_allclose(left[f"{key}_per_step"], right[f"{key}_per_step"], rtol=1e-12)
    assert left["sequences"] == 3


def test_shape_errors():
    with pytest.raises(BadInputError, match="differ"):
        frame_mse(np.zeros((1, 2, 8, 8)), np.zeros((1, 3, 8, 8)))
    with pytest.raises(BadInputError, match="expected video"):
        frame_mse(np.zeros((8, 8)), np.zeros((8, 8)))
    m = VideoPredictionMetrics(ssim=False)
    m.update(np.zeros((1, 2, 8, 8)), np.zeros((1, 2, 8, 8)))
    with pytest.raises(BadInputError, match="cannot be added"):
        m.update(np.zeros((1, 3, 8, 8)), np.zeros((1, 3, 8, 8)))
