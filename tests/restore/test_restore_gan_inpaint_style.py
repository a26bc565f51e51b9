"""SRGAN, partial-convolution inpainting and style transfer: per-model checks, the encoder
fallback / VGG file loading, Gatys optimisation, and inpainting keeping known pixels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import aigc
from aigc.core.errors import BadInputError
from aigc.restore.blocks import PartialConv2d
from aigc.restore.data import sr_patches, to_uint8_tensor
from aigc.restore.features import RandomEncoder, VGG19Encoder, gram, load_encoder
from aigc.restore.style import gatys, style_loss
from aigc.restore.train import build_objective
from aigc.train.trainer import read_metrics


def _loss_drops(out_dir) -> bool:
    rows = read_metrics(out_dir)
    return min(r["loss"] for r in rows[-3:]) < rows[0]["loss"]


def _grads_everywhere(net: torch.nn.Module) -> None:
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_partial_conv_ignores_unknown_pixels() -> None:
    conv = PartialConv2d(1, 2, 3, 1, 1)
    x = torch.rand(1, 1, 6, 6)
    known = torch.ones(1, 1, 6, 6)
    known[..., 2:4, 2:4] = 0
    y1, m1 = conv(x, known)
    x2 = x.clone()
    x2[..., 2:4, 2:4] = 100.0  # garbage under the hole must not matter
    y2, _ = conv(x2, known)
    assert torch.allclose(y1, y2)
    assert m1.min() == 1  # a 3x3 window always sees a known pixel around a 2x2 hole
    full, _ = conv(x, torch.ones_like(known))  # all known: an ordinary convolution inside
    plain = F.conv2d(x, conv.weight, conv.bias, padding=1)
    assert torch.allclose(full[..., 1:-1, 1:-1], plain[..., 1:-1, 1:-1], atol=1e-6)


def test_inpaint_model_trains_and_keeps_known_pixels(tmp_path, run_training, photos) -> None:
    torch.manual_seed(0)
    obj = build_objective("inpaint", "pconv", features=8, depth=2)
    data = {"images": to_uint8_tensor([im[:16, :16] for im in photos(16, 24, seed=2)])}
    g = torch.Generator().manual_seed(0)
    out = obj.training_step(obj.nets, {"images": data["images"][:4]}, type("C", (), {"generator": g})())
    out["loss"].backward()
    _grads_everywhere(obj.nets["net"])
    run_training(obj, data, tmp_path / "m", steps=30, lr=3e-3, meta={"architecture": "pconv"})
    assert _loss_drops(tmp_path / "m")
    pipe = aigc.load(str(tmp_path / "m"), device="cpu")
    img = torch.rand(1, 3, 21, 19, generator=g)
    mask = torch.zeros(21, 19)
    mask[5:12, 4:9] = 1
    a, b = pipe.inpaint(img, mask, seed=1), pipe.inpaint(img, mask, seed=1)
    assert torch.equal(a, b) and a.shape == img.shape
    assert torch.equal(a[..., mask == 0], img[..., mask == 0])
    assert not torch.equal(a[..., mask == 1], img[..., mask == 1])
    with pytest.raises(BadInputError, match="mask size"):
        pipe.inpaint(img, torch.zeros(5, 5))


def test_srgan_both_networks_learn_and_load(tmp_path, run_training, photos) -> None:
    torch.manual_seed(0)
    fields = dict(scale=2, features=8, blocks=1, d_features=4)
    obj = build_objective("sr", "srgan", **fields)
    data = sr_patches(photos(4, 40, seed=3), 2, 8, 16, seed=0)
    run_training(obj, data, tmp_path / "g", steps=4, meta={"architecture": "srgan"})
    rows = read_metrics(tmp_path / "g")
    assert all(torch.isfinite(torch.tensor([r["loss"], r["d_loss"]])).all() for r in rows)
    pipe = aigc.load(str(tmp_path / "g"), device="cpu")
    x = torch.rand(1, 3, 10, 12)
    obj.nets["net"].eval()
    with torch.no_grad():
        assert torch.equal(pipe.upscale(x, tile=0), obj.restore(obj.nets, x).clamp(0, 1))
    # --init: start a generator from another directory's weights
    other = build_objective("sr", "srgan", **fields)
    other.init_from(str(tmp_path / "g"))
    assert all(torch.equal(a, b) for a, b in zip(other.nets["net"].state_dict().values(),
                                                 obj.nets["net"].state_dict().values()))


def test_vgg_file_loads_with_torchvision_keys_and_rejects_others(tmp_path) -> None:
    ref = VGG19Encoder()
    tensors = {f"features.{k}": v for k, v in ref.features.state_dict().items()}
    tensors["features.34.weight"] = torch.zeros(512, 512, 3, 3)  # later layers are ignored
    save_file(tensors, str(tmp_path / "vgg.safetensors"))
    enc = load_encoder(str(tmp_path / "vgg.safetensors"))
    x = torch.rand(1, 3, 32, 32)
    feats = enc(x)
    assert set(feats) == {"s1", "s2", "s3", "s4", "s5", "content"} and enc.label.startswith("vgg19")
    first = F.relu(F.conv2d((x - enc.mean) / enc.std, tensors["features.0.weight"], tensors["features.0.bias"], padding=1))
    assert torch.allclose(feats["s1"], first, atol=1e-5)
    save_file({"foo": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(BadInputError, match="not a VGG19"):
        load_encoder(str(tmp_path / "bad.safetensors"))


def test_random_encoder_is_seeded_and_labelled() -> None:
    x = torch.rand(1, 3, 32, 32)
    a, b, c = RandomEncoder(1)(x), RandomEncoder(1)(x), RandomEncoder(2)(x)
    assert torch.equal(a["s3"], b["s3"]) and not torch.equal(a["s3"], c["s3"])
    assert "random" in load_encoder(None).label
    f = torch.rand(2, 4, 5, 6)
    flat = f.reshape(2, 4, 30)
    assert torch.allclose(gram(f), torch.einsum("bcn,bdn->bcd", flat, flat) / 120)


def test_gatys_lowers_the_style_loss() -> None:
    g = torch.Generator().manual_seed(0)
    content, style = torch.rand(1, 3, 32, 32, generator=g), torch.rand(1, 3, 32, 32, generator=g).pow(3)
    enc = RandomEncoder(0)
    targets = {k: gram(v) for k, v in enc(style).items()}
    before = style_loss(enc(content), targets).item()
    out = gatys(content, style, enc, steps=30, lr=0.05)
    assert out.shape == content.shape and 0 <= out.min() and out.max() <= 1
    assert style_loss(enc(out), targets).item() < 0.5 * before


def test_johnson_trains_and_save_load_identical(tmp_path, run_training, photos) -> None:
    torch.manual_seed(0)
    obj = build_objective("style", "johnson", features=4, res_blocks=1)
    with pytest.raises(BadInputError, match="style"):
        obj.set_style_image(None, {})
    obj.set_style(torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(5)))
    data = {"images": to_uint8_tensor([im[:24, :24] for im in photos(8, 24, seed=4)])}
    run_training(obj, data, tmp_path / "s", steps=12, lr=3e-3, batch_size=4, meta={"architecture": "johnson"})
    assert _loss_drops(tmp_path / "s")
    pipe = aigc.load(str(tmp_path / "s"), device="cpu")
    x = torch.rand(1, 3, 18, 22)
    obj.nets["net"].eval()
    with torch.no_grad():
        assert torch.equal(pipe.stylize(x), obj.restore(obj.nets, x).clamp(0, 1))
    with pytest.raises(BadInputError, match="needs a 'sr' model"):
        pipe.upscale(x)
