"""Feature extractors: reproducible domain CNN training, strict loading, the InceptionV3 loader."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from aigc.core.errors import BadInputError
from aigc.metrics.features import features_dir, load_feature_extractor, sha256_file
from aigc.metrics.inception import InceptionV3
from aigc.metrics.train_features import train_feature_net, train_features


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _toy_data(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of 28x28 images: bright top half or bright bottom half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 1, 28, 28, generator=g) * 0.3
    for i, y in enumerate(labels.tolist()):
        images[i, :, :14] += 0.7 if y == 0 else 0.0
        images[i, :, 14:] += 0.7 if y == 1 else 0.0
    return images.clamp(0, 1), labels


def test_train_features_is_reproducible_and_loads(cache, tmp_path) -> None:
    kw = dict(steps=4, batch_size=16, lr=1e-3, seed=3)
    train, test = _toy_data(0, 64), _toy_data(1, 16)
    folder = features_dir("digits")
    meta = train_feature_net("digits", train, test, folder, **kw)
    assert meta["sha256"] == sha256_file(folder / "model.safetensors")
    assert json.loads((folder / "config.json").read_text())["sha256"] == meta["sha256"]
    assert not any(p.name.startswith(".train") for p in (cache / "features").iterdir())
    again = train_feature_net("digits", train, test, tmp_path / "again", **kw)
    assert again["sha256"] == meta["sha256"]  # same seed, same weights, same hash
    fx = load_feature_extractor("digits")
    images = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    feats, probs = fx.features(images, batch_size=2), fx.probs(images)
    assert feats.shape == (5, 128) and probs.shape == (5, 2)
    assert torch.allclose(probs.sum(1), torch.ones(5, dtype=torch.float64))
    assert fx.describe()["sha256"] == meta["sha256"]
    rgb = images.expand(-1, 3, -1, -1)  # RGB input is converted to grey
    assert torch.allclose(fx.features(rgb), feats, atol=1e-5)
    with pytest.raises(BadInputError, match="unknown data"):
        train_features("cifar10")


def test_missing_features_say_how_to_make_them(cache) -> None:
    with pytest.raises(BadInputError, match="train-features --data mnist"):
        load_feature_extractor("mnist")
    with pytest.raises(BadInputError, match="unknown features"):
        load_feature_extractor("imagenet")


def test_inception_loader_same_shape_random_weights(tmp_path) -> None:
    torch.manual_seed(0)
    net = InceptionV3()
    state = {k: v.half() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "inception.safetensors"
    save_file(state, str(path))
    fx = load_feature_extractor(f"inception:{path}")
    assert fx.describe()["sha256"] == sha256_file(path) and fx.describe()["dim"] == 2048
    loaded = fx.net.state_dict()
    assert all(torch.equal(loaded[k], v.float()) for k, v in state.items())
    fx.net.resize_to = 75  # the layout is size-agnostic; 75x75 instead of 299x299 keeps this fast
    out = fx.features(torch.rand(1, 1, 16, 16))  # grey, any size: made RGB first
    assert out.shape == (1, 2048) and torch.isfinite(out).all()
    bad = {"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1008), "extra.weight": torch.zeros(1)}
    save_file(bad, str(tmp_path / "bad.safetensors"))
    with pytest.raises(BadInputError, match=r"missing \['Conv2d_1a_3x3.bn.bias'.*unexpected \['extra.weight'\]; "
                                            r"wrong shape \['fc.weight'\]"):
        load_feature_extractor(f"inception:{tmp_path / 'bad.safetensors'}")
    with pytest.raises(BadInputError, match="not found"):
        load_feature_extractor(f"inception:{tmp_path / 'nope.safetensors'}")


def test_inception_parameter_layout_matches_fid_network() -> None:
    net = InceptionV3()
    # pytorch-fid's FID InceptionV3: 23,850,960 parameters (torchvision layout, 1008-way fc, no aux)
    assert sum(p.numel() for p in net.parameters()) == 23_850_960
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in net.state_dict()
