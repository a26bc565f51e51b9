"""Restoration robustness: the corruptions against their references, and the table on a tiny
denoiser and a tiny super-resolution model trained here (through the CLI, as a user would)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from aigc.cli import main
from aigc.core.errors import BadInputError
from aigc.tools.robust.restoration import corrupt, parse_corruptions



@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Four 48x48 grey crops of scikit-image's camera man: train/ (3) and test/ (1)."""
    from skimage import data

    cam = data.camera()
    root = tmp_path_factory.mktemp("photos")
    for i, (y, x) in enumerate([(60, 200), (200, 260), (300, 120), (120, 330)]):
        folder = root / ("test" if i == 3 else "train")
        folder.mkdir(exist_ok=True)
        Image.fromarray(cam[y:y + 48, x:x + 48]).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def denoiser(tmp_path_factory, photos):
    out = tmp_path_factory.mktemp("dn") / "dncnn"
    assert main(["train", "restore", "--kind", "denoise", "--arch", "dncnn", "--depth", "4", "--features", "12",
                 "--no-batch-norm", "--sigma", "15", "--data", str(photos / "train"), "--patch", "24",
                 "--patches", "64", "--steps", "150", "--batch-size", "16", "--lr", "3e-3", "--seed", "0",
                 "--no-progress", "--out", str(out)]) == 0
    return out


def test_corruptions_match_their_references():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 20, 24, generator=g)
    # noise: the seeded draw, sigma on the 0-255 scale, not clipped
    noisy = corrupt(x, "noise", 25, torch.Generator().manual_seed(1))
    expected = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(1)) * (25 / 255)
    assert torch.equal(noisy, expected)
    # jpeg: Pillow's own encode/decode of the uint8 image
    arr = (x[1] * 255).round().byte().permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=30)
    ref = np.asarray(Image.open(io.BytesIO(buf.getvalue()))).astype(np.float32) / 255
    assert np.array_equal(corrupt(x, "jpeg", 30)[1].permute(1, 2, 0).numpy(), ref)
    # blur: a constant image stays constant, and the blur lowers the variance of noise by the
    # closed-form factor of a 2-D Gaussian filter (sum of squared weights, 1 / (4 pi sigma^2) for large sigma)
    flat = torch.full((1, 1, 16, 16), 0.3)
    assert torch.allclose(corrupt(flat, "blur", 2.0), flat, atol=1e-6)
    white = torch.randn(1, 1, 256, 256, generator=g)
    ratio = float(corrupt(white, "blur", 3.0)[..., 20:-20, 20:-20].var() / white.var())
    assert ratio == pytest.approx(1 / (4 * np.pi * 9), rel=0.1)


def test_bad_levels_are_refused_in_one_line():
    with pytest.raises(BadInputError, match="--jpeg"):
        parse_corruptions([15], [120], [])
    with pytest.raises(BadInputError, match="--noise"):
        parse_corruptions([-1], [], [])


def test_denoiser_table_psnr_falls_beyond_the_trained_noise(denoiser, photos, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["audit", "robustness", str(denoiser), "--data", str(photos / "test"), "--noise", "15,30,60",
                 "--jpeg", "50", "--blur", "1.5", "--pictures", str(tmp_path / "pics"), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "noise:30" in table and "jpeg:50" in table and "blur:1.5" in table
    report = json.loads(out.read_text())
    assert report["kind"] == "denoise" and report["trained_sigma"] == 15
    rows = {(r["corruption"], r["level"]): r for r in report["rows"]}
    psnr = [rows[("noise", s)]["psnr"] for s in (15.0, 30.0, 60.0)]
    assert psnr[0] > psnr[1] + 1 > psnr[2] + 2, psnr  # a real drop as the noise outgrows training
    at_trained = rows[("noise", 15.0)]
    assert at_trained["psnr"] > at_trained["baseline_psnr"] + 2, at_trained  # the model denoises
    noisy_15 = 20 * np.log10(255 / 15)  # the baseline is the noisy input: ~PSNR of sigma-15 noise
    assert at_trained["baseline_psnr"] == pytest.approx(noisy_15, abs=0.6)
    assert rows[("none", 0.0)]["baseline_psnr"] == float("inf") or rows[("none", 0.0)]["baseline_psnr"] > 90
    strip = Image.open(report["pictures"][0])
    assert strip.size[0] > strip.size[1]  # one column per corruption, two rows


def test_sr_model_is_scored_on_y_with_a_bicubic_baseline(photos, tmp_path, capsys):
    out = tmp_path / "espcn"
    assert main(["train", "restore", "--kind", "sr", "--arch", "espcn", "--scale", "2", "--features", "8",
                 "--data", str(photos / "train"), "--patch", "8", "--patches", "32", "--steps", "5",
                 "--batch-size", "8", "--no-progress", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["audit", "robustness", str(out), "--data", str(photos / "test"), "--noise", "10",
                 "--jpeg", "", "--blur", "", "--out", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["scale"] == 2 and [r["corruption"] for r in report["rows"]] == ["none", "noise"]
    # the bicubic baseline of the clean row equals a direct computation
    from aigc.metrics import psnr

    hr = torch.from_numpy(np.asarray(Image.open(photos / "test" / "3.png")).astype(np.float32) / 255)[None, None]
    lr = np.asarray(Image.fromarray((hr[0, 0] * 255).round().byte().numpy()).resize((24, 24), Image.BICUBIC))
    up = torch.nn.functional.interpolate(torch.from_numpy(lr.astype(np.float32) / 255)[None, None], scale_factor=2,
                                         mode="bicubic", align_corners=False).clamp(0, 1)
    assert report["rows"][0]["baseline_psnr"] == pytest.approx(psnr(up, hr, shave=2), abs=1e-6)


def test_a_model_that_restores_nothing_measurable_is_refused(tmp_path):
    from aigc.classify.train import ClassifySettings, train
    from aigc.tools.robust.restoration import load_restorer
    from aigc.train import TrainConfig

    cfg = TrainConfig(steps=2, batch_size=16, seed=0, progress=False, checkpoint_every=2)
    train(ClassifySettings(data="digits", widths=(4, 4), hidden=8), cfg, tmp_path / "cls")
    with pytest.raises(BadInputError, match="not a restoration model"):
        load_restorer(str(tmp_path / "cls"))
