"""Augmentations: seeded, shape/range/label preserving, and equal to references (PIL ImageEnhance,
torch.rot90, closed forms for mixup/CutMix)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

from aigc.core.errors import BadInputError
from aigc.data.augment import functional as AF
from aigc.data.augment import parse_spec


def _images(n=8, c=3, s=16, seed=0):
    return torch.rand(n, c, s, s, generator=torch.Generator().manual_seed(seed))


SPECS = ["hflip", "vflip:1", "crop:2", "affine:20:0.1:0.1:5", "jitter:0.4", "cutout:5", "randaugment:2:9",
         "hflip,crop:2,affine:10,jitter:0.2,cutout:4,randaugment:1:5"]


@pytest.mark.parametrize("spec", SPECS)
def test_seeded_shape_and_range(spec):
    aug, x = parse_spec(spec), _images()
    a = aug(x, torch.Generator().manual_seed(1))
    b = aug(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == x.dtype
    assert float(a.min()) >= -1e-6 and float(a.max()) <= 1 + 1e-6
    if spec != "vflip:1":  # every other op changes something for some seed
        c = aug(x, torch.Generator().manual_seed(2))
        assert not torch.equal(a, c)


def test_flip_and_rotation_references():
    x = _images()
    assert torch.equal(AF.hflip(x, torch.Generator().manual_seed(0), p=1.0), x.flip(-1))
    assert torch.equal(AF.vflip(x, None, p=0.0), x)
    n = x.shape[0]
    theta = AF.affine_matrix(torch.full((n,), 90.0), torch.zeros(n), torch.zeros(n), torch.ones(n), torch.zeros(n))
    rotated = AF.warp(x, theta)
    # 90 degrees counter-clockwise on screen (y down) is rot90 over (H, W) with k=1
    assert torch.allclose(rotated, torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5)
    identity = AF.affine(x, torch.Generator().manual_seed(0), degrees=0, translate=0, scale=(1, 1))
    assert torch.allclose(identity, x, atol=1e-6)


@pytest.mark.parametrize("name,fn", [("Brightness", AF.brightness), ("Contrast", AF.contrast),
                                     ("Color", AF.saturation)])
def test_photometric_ops_match_pil(name, fn):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    for factor in (0.5, 1.3):
        ref = np.asarray(getattr(ImageEnhance, name)(Image.fromarray(arr)).enhance(factor)).astype(float)
        x = torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255
        out = fn(x, torch.tensor([factor]))[0].permute(1, 2, 0).numpy() * 255
        # PIL rounds in 8 bits (and its grey mean for contrast is itself rounded)
        assert np.abs(out - ref).max() <= 1.6


def test_cutout_and_crop_closed_forms():
    x = torch.ones(4, 1, 20, 20)
    out = AF.cutout(x, torch.Generator().manual_seed(0), size=6)
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert torch.all(zeros <= 36) and torch.all(zeros >= 9)  # a 6x6 box, clipped at most to a corner
    x = _images(n=3, c=1, s=12)
    crop = AF.random_crop(x, torch.Generator().manual_seed(0), padding=2)
    for i in range(3):  # each crop is a window of the reflect-padded image
        padded = torch.nn.functional.pad(x[i:i + 1], (2, 2, 2, 2), mode="reflect")[0]
        windows = padded.unfold(1, 12, 1).unfold(2, 12, 1)  # (C, 5, 5, 12, 12)
        assert any(torch.equal(windows[:, dy, dx], crop[i]) for dy in range(5) for dx in range(5))


def test_mixup_cutmix_mix_labels_like_pixels():
    x, y = _images(n=6), torch.eye(6)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))  # the functions' first draw
    mixed, labels, lam = AF.mixup(x, y, torch.Generator().manual_seed(0), alpha=0.4)
    lam4 = lam.view(-1, 1, 1, 1)
    assert torch.allclose(mixed, lam4 * x + (1 - lam4) * x[perm], atol=1e-6)
    assert torch.allclose(labels, lam[:, None] * y + (1 - lam[:, None]) * y[perm], atol=1e-6)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(1))
    mixed, labels, lam = AF.cutmix(x, y, torch.Generator().manual_seed(1))
    own = (mixed == x).all(dim=1)
    partner = (mixed == x[perm]).all(dim=1)
    assert torch.all(own | partner)  # every pixel is the image's own or its partner's
    for i in range(6):
        if perm[i] != i:
            assert abs(float(own[i].float().mean()) - float(lam[i])) < 1e-6
    assert torch.allclose(labels, lam[:, None] * y + (1 - lam[:, None]) * y[perm], atol=1e-6)
    assert torch.allclose(labels.sum(1), torch.ones(6))


def test_spec_errors_are_one_line():
    for bad, words in [("blur", "unknown op"), ("crop:x", "must be a number"), ("hflip:2", "must be in"),
                       ("mixup", "mixes labels"), ("", "names no op"), ("cutout:4:5", "too many")]:
        with pytest.raises(BadInputError, match=words):
            parse_spec(bad)


def test_extension_keeps_labels_aligns_pairs_and_refuses_misuse():
    import argparse
    from types import SimpleNamespace

    from aigc.data.augment.extension import AUGMENT

    p = argparse.ArgumentParser()
    AUGMENT.add_args(p)
    assert AUGMENT.options(p.parse_args([])) is None
    ext = AUGMENT.build(AUGMENT.options(p.parse_args(["--augment", "hflip,affine:20,cutout:4"])))
    x = _images(n=6, c=1) * 2 - 1  # a [-1, 1] image batch with a paired copy and labels
    labels = torch.arange(6)
    ctx = SimpleNamespace(generator=torch.Generator().manual_seed(0))
    out = ext.transform_batch(None, {"images": x, "target": x.clone(), "labels": labels}, ctx)
    assert torch.equal(out["labels"], labels) and torch.equal(out["images"], out["target"])
    assert float(out["images"].min()) >= -1 - 1e-6 and not torch.equal(out["images"], x)
    ref = parse_spec("hflip,affine:20,cutout:4")
    seed = int(torch.randint(0, 2**62, (1,), generator=torch.Generator().manual_seed(0)).item())
    assert torch.allclose(out["images"], ref((x + 1) / 2, torch.Generator().manual_seed(seed)) * 2 - 1, atol=1e-6)
    with pytest.raises(BadInputError, match="misalign"):
        ext.transform_batch(None, {"lr": x[:, :, :8, :8], "hr": x}, ctx)
    with pytest.raises(BadInputError, match="no \\(N, C, H, W\\)"):
        ext.transform_batch(None, {"ids": labels}, ctx)
    assert ext.describe() == {"spec": "hflip,affine:20,cutout:4", "ops": ["hflip", "affine", "cutout"]}
