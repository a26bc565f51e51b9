"""Explanations: Captum attributions against direct autograd and closed forms, IG completeness,
attention maps against the model's own attention, latent maps that separate classes, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from aigc.tools.explain.attribution import attribute, find_scorer


class TinyClassifier:
    """A Classifies objective: a linear map of (1, 8, 8) images to 3 logits."""

    input_key, label_key = "images", "labels"

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.nets = {"classifier": nn.Sequential(nn.Flatten(), nn.Linear(64, 3))}

    def logits(self, nets, x):
        return nets["classifier"](x)


def _image() -> torch.Tensor:
    return torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def test_saliency_and_ig_match_closed_forms_on_a_linear_classifier():
    obj = TinyClassifier()
    scorer = find_scorer(obj, obj.nets)
    assert scorer.kind == "classifier"
    x, w = _image(), obj.nets["classifier"][1].weight.detach()
    sal, _ = attribute(scorer, x, "saliency", 2)
    torch.testing.assert_close(sal[0], w[2].abs().reshape(8, 8))  # |d logit / d x|
    ig, _ = attribute(scorer, x, "ig", 2)
    torch.testing.assert_close(ig[0], (w[2] * x.reshape(-1)).reshape(8, 8), atol=1e-5, rtol=1e-4)
    occ, _ = attribute(scorer, x, "occlusion", 2, window=2)
    assert occ.shape == (1, 8, 8) and torch.isfinite(occ).all()


def test_integrated_gradients_completeness_on_a_nonlinear_discriminator():
    torch.manual_seed(0)
    disc = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(256, 1))
    scorer = find_scorer(object(), {"discriminator": disc})
    assert scorer.kind == "discriminator"
    x = _image()
    attr, info = attribute(scorer, x, "ig", 0, steps=128)
    with torch.no_grad():
        gap = -(disc(x * 2 - 1) - disc(torch.zeros_like(x) * 2 - 1)).item()  # score = -D(2x - 1)
    assert info["score_gap"] == pytest.approx(gap, abs=1e-5)
    assert float(attr.sum()) == pytest.approx(gap, abs=1e-3 + 1e-3 * abs(gap))


def test_a_model_without_classifier_or_discriminator_is_refused():
    from aigc.core.errors import BadInputError

    with pytest.raises(BadInputError, match="Classifies"):
        find_scorer(object(), {"generator": nn.Linear(2, 2)})


@pytest.fixture(scope="module")
def tiny_gpt():
    from aigc.text.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=40, context=16, layers=2, heads=2, embed=16)).eval()


def test_attention_maps_reproduce_the_models_attention(tiny_gpt):
    import torch.nn.functional as F

    from aigc.tools.explain.text import attention_maps

    ids = [3, 7, 1, 9, 4, 2]
    maps = attention_maps(tiny_gpt, ids)
    assert len(maps) == 2 and maps[0].shape == (2, 6, 6)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 6))
    assert torch.all(maps[0].triu(1) == 0)  # causal
    block = tiny_gpt.h[0]
    x = tiny_gpt.wte(torch.tensor([ids])) + tiny_gpt.wpe(torch.arange(6))[None]
    q, k, v = block.attn.c_attn(block.ln_1(x)).split(16, dim=2)
    v = v.view(1, 6, 2, 8).transpose(1, 2)
    q, k = (z.view(1, 6, 2, 8).transpose(1, 2) for z in (q, k))
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(maps[0][None] @ v, want, atol=1e-5, rtol=1e-4)


def test_token_attributions_are_complete(tiny_gpt):
    from aigc.tools.explain.text import token_attributions

    class Obj:
        @staticmethod
        def logits(net, x):
            return net(x)

    out = token_attributions(Obj(), tiny_gpt, [3, 7, 1, 9], steps=64)
    assert out["scores"].shape == (4,) and out["completeness_error"] < 1e-2


def test_latent_maps_separate_digit_classes():
    from sklearn.datasets import load_digits

    from aigc.tools.explain.latents import project, separation

    digits = load_digits()
    x, y = digits.data[:400], digits.target[:400]
    latents = x @ np.random.default_rng(0).standard_normal((64, 8))  # a random linear "encoder"
    maps = project(latents)
    for pts in maps.values():
        assert pts.shape == (400, 2) and np.isfinite(pts).all() and (pts.std(0) > 1e-3).all()
    assert separation(maps["tsne"], y) > 0.5  # chance is 0.1


def test_explain_cli_on_a_trained_vae(tmp_path):
    from PIL import Image

    from aigc.cli import main

    model = tmp_path / "vae"
    assert main(["train", "image-gen", "--arch", "vae", "--data", "digits", "--image-size", "8", "--steps", "4",
                 "--batch-size", "16", "--out", str(model), "--no-progress"]) == 0
    out = tmp_path / "map.png"
    assert main(["explain", str(model), "--data", "digits", "--n", "150", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.width > 300 and np.asarray(im.convert("L")).std() > 10
