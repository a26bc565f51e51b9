"""Super-resolution: sub-pixel shapes, bicubic baseline PSNR vs an independent computation,
colour conversions, and the per-model checks (gradients, save/load, seeds, loss decreases)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from aigc.core.errors import BadInputError
from aigc.metrics import psnr, rgb_to_y
from aigc.restore.blocks import Upsampler
from aigc.data.color import array_to_tensor, rgb_to_ycbcr, ycbcr_to_rgb
from aigc.restore.degrade import bicubic_downscale, bicubic_upscale, dihedral, modcrop
from aigc.restore.sr import ESPCNObjective, ESPCNConfig, SRResNetObjective, SRResNetConfig


def _smooth_image(h: int = 48, w: int = 60, seed: int = 0) -> np.ndarray:
    """A synthetic (H, W, 3) uint8 image: smooth gradients plus a few sinusoids."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = [127 + 60 * np.sin(x / rng.uniform(3, 9) + y / rng.uniform(4, 11) + rng.uniform(0, 6))
             + 40 * np.cos(y / rng.uniform(2, 7)) for _ in range(3)]
    return np.clip(np.stack(chans, -1), 0, 255).round().astype(np.uint8)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_subpixel_shapes_every_scale(scale: int) -> None:
    x = torch.rand(2, 8, 5, 7)
    assert Upsampler(8, scale)(x).shape == (2, 8, 5 * scale, 7 * scale)
    for obj in (ESPCNObjective(ESPCNConfig(scale=scale, features=8)),
                SRResNetObjective(SRResNetConfig(scale=scale, features=8, blocks=1, channels=3))):
        c = obj.config.channels
        assert obj.nets["net"](torch.rand(2, c, 6, 9)).shape == (2, c, 6 * scale, 9 * scale)
        assert obj.restore(obj.nets, torch.rand(1, 3, 6, 9)).shape == (1, 3, 6 * scale, 9 * scale)
        assert obj.restore(obj.nets, torch.rand(1, 1, 6, 9)).shape == (1, 1, 6 * scale, 9 * scale)


def test_bicubic_baseline_psnr_matches_independent_computation() -> None:
    hr = modcrop(_smooth_image(50, 62), 2)
    sr = bicubic_upscale(bicubic_downscale(hr, 2), 2)
    # independent: PIL directly, then BT.601 Y in numpy on the 0-255 scale, shave 2, 10 log10(255^2 / mse)
    lr_ref = Image.fromarray(hr).resize((hr.shape[1] // 2, hr.shape[0] // 2), Image.BICUBIC)
    sr_ref = np.asarray(lr_ref.resize((hr.shape[1], hr.shape[0]), Image.BICUBIC)).astype(np.float64)
    w = np.array([65.481, 128.553, 24.966]) / 255.0
    y_sr, y_hr = 16 + sr_ref @ w, 16 + hr.astype(np.float64) @ w
    mse = np.mean((y_sr[2:-2, 2:-2] - y_hr[2:-2, 2:-2]) ** 2)
    expected = 10 * np.log10(255.0**2 / mse)
    got = psnr(array_to_tensor(sr), array_to_tensor(hr), y_channel=True, shave=2)
    assert got == pytest.approx(expected, abs=1e-6)
    assert 20 < got < 60


def test_ycbcr_roundtrip_and_y_matches_metrics() -> None:
    x = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    ycc = rgb_to_ycbcr(x)
    assert torch.allclose(ycc[:, :1], rgb_to_y(x))
    assert torch.allclose(ycbcr_to_rgb(ycc), x, atol=1e-10)


def test_degradation_validates_and_dihedral_is_a_group() -> None:
    with pytest.raises(BadInputError, match="multiple of scale"):
        bicubic_downscale(np.zeros((5, 6), np.uint8), 2)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    outs = {tuple(dihedral(x, k).flatten().tolist()) for k in range(8)}
    assert len(outs) == 8


@pytest.mark.parametrize("cls,cfg", [(ESPCNObjective, ESPCNConfig(scale=2, features=8)),
                                     (SRResNetObjective, SRResNetConfig(scale=3, features=8, blocks=2, channels=3))])
def test_sr_gradients_reach_every_parameter(cls, cfg) -> None:
    obj = cls(cfg)
    g = torch.Generator().manual_seed(0)
    c, s = cfg.channels, cfg.scale
    batch = {"lr": torch.randint(0, 256, (4, 3, 6, 6), generator=g, dtype=torch.uint8),
             "hr": torch.randint(0, 256, (4, 3, 6 * s, 6 * s), generator=g, dtype=torch.uint8)}
    ctx = type("Ctx", (), {"generator": g})()
    out = obj.training_step(obj.nets, batch, ctx)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    for name, p in obj.nets["net"].named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert c in (1, 3)
