"""Feature encoders for perceptual and style losses: VGG19 from a local weights file, or a
clearly labelled, seeded random-feature fallback.

Pretrained VGG weights cannot be downloaded here. Give a safetensors file with torchvision's
``vgg19`` keys (``features.0.weight``, ``features.0.bias``, ... ``features.34.bias``; only the conv
layers up to relu5_1 are read). To convert a torchvision checkpoint on a machine that has it::

    import torchvision, safetensors.torch
    sd = torchvision.models.vgg19(weights="IMAGENET1K_V1").features.state_dict()
    safetensors.torch.save_file({f"features.{k}": v for k, v in sd.items()}, "vgg19.safetensors")

Without one, :class:`RandomEncoder` stands in: a multi-scale conv encoder with fixed random
weights drawn from a seed. Random shallow features carry texture statistics well enough for
style transfer (Ustyuzhaninov et al. 2017, "What does it take to generate natural textures?"),
but results are weaker than VGG's; outputs record which encoder was used (``label``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.core.modeldir import load_weights

__all__ = ["VGG19Encoder", "RandomEncoder", "load_encoder", "gram", "STYLE_LAYERS", "CONTENT_LAYER"]

# torchvision vgg19.features: channel counts, "M" = max-pool; indices follow from this list
_VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
# Gatys et al. 2016: style on relu1_1..relu5_1, content on relu4_2; as torchvision indices
_VGG_TAPS = {"s1": 1, "s2": 6, "s3": 11, "s4": 20, "content": 22, "s5": 29}
STYLE_LAYERS = ("s1", "s2", "s3", "s4", "s5")
CONTENT_LAYER = "content"
_MEAN = (0.485, 0.456, 0.406)  # ImageNet statistics VGG was trained with
_STD = (0.229, 0.224, 0.225)


class VGG19Encoder(nn.Module):
    """(B, 3, H, W) RGB in [0, 1] -> {"s1".."s5", "content": feature maps} (frozen VGG19)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG19:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                cin = int(v)
        self.features = nn.Sequential(*layers[:_VGG_TAPS["s5"] + 1])
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.label = "vgg19"

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = (x - self.mean) / self.std
        out, taps = {}, {v: k for k, v in _VGG_TAPS.items()}
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in taps:
                out[taps[i]] = h
        return out

    @classmethod
    def from_file(cls, path: str | Path) -> "VGG19Encoder":
        enc = cls()
        weights = load_weights(path)
        wanted = enc.features.state_dict()
        missing = [f"features.{k}" for k in wanted if f"features.{k}" not in weights]
        if missing:
            raise BadInputError(f"{path}: not a VGG19 features file (missing {missing[:3]}...); keys "
                                "must be torchvision's features.N.weight / features.N.bias")
        try:
            enc.features.load_state_dict({k: weights[f"features.{k}"] for k in wanted}, strict=True)
        except RuntimeError as exc:
            raise BadInputError(f"{path}: weights do not fit VGG19 ({exc})") from exc
        enc.label = f"vgg19:{Path(path).name}"
        return enc.eval().requires_grad_(False)


class RandomEncoder(nn.Module):
    """Fallback: 5 stages of random 3x3 convs + ReLU with 2x average pooling between them.

    Weights are drawn from ``seed`` (He-normal), so the same seed gives the same encoder.
    (B, 3, H, W) -> {"s1".."s5", "content"} like :class:`VGG19Encoder`.
    """

    def __init__(self, seed: int = 0, width: int = 32) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        widths = [width, 2 * width, 4 * width, 4 * width, 4 * width]
        self.convs = nn.ModuleList()
        cin = 3
        for w in widths:
            conv = nn.Conv2d(cin, w, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * (2.0 / (9 * cin)) ** 0.5)
                conv.bias.zero_()
            self.convs.append(conv)
            cin = w
        self.label = f"random-features(seed={seed}) - no VGG19 weights given"
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out, h = {}, x - 0.5
        for i, conv in enumerate(self.convs):
            h = F.relu(conv(h if i == 0 else F.avg_pool2d(h, 2)))
            out[STYLE_LAYERS[i]] = h
            if i == 3:
                out[CONTENT_LAYER] = h
        return out


def load_encoder(vgg_weights: str | None, seed: int = 0) -> nn.Module:
    """VGG19 from ``vgg_weights`` when given, else the seeded :class:`RandomEncoder` (eval, frozen)."""
    if vgg_weights:
        return VGG19Encoder.from_file(vgg_weights)
    return RandomEncoder(seed).eval()


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrices (B, C, C) of (B, C, H, W) features, normalised by C*H*W (Johnson et al. 2016)."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)
