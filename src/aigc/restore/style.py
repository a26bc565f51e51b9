"""Style transfer: optimisation-based (Gatys, Ecker & Bethge 2016) and a feed-forward network
trained for one style (Johnson, Alahi & Fei-Fei 2016), over the encoders of ``features``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.restore.data import image_patches, load_images
from aigc.restore.degrade import random_dihedral
from aigc.restore.features import CONTENT_LAYER, STYLE_LAYERS, gram, load_encoder
from aigc.train.objective import NetworksObjective

__all__ = ["JohnsonConfig", "TransformNet", "JohnsonObjective", "style_loss", "gatys", "fit_size"]


@dataclass(kw_only=True)
class JohnsonConfig:
    features: int = 32  # the paper's 32-64-128 widths
    res_blocks: int = 5  # Johnson et al. 2016, supplementary table 1
    style_weight: float = 1e5  # relative to content_weight = 1 with Gram matrices / (C*H*W)
    content_weight: float = 1.0
    tv_weight: float = 1e-6  # total variation smoothing (Johnson et al. 2016, section 3.3)
    vgg_weights: str | None = None  # local VGG19 safetensors; None = random-feature encoder
    encoder_seed: int = 0
    style_size: int = 256  # style image resized so its longest side is this

    def __post_init__(self) -> None:
        if self.features < 4 or self.res_blocks < 0:
            raise ValueError(f"need features >= 4 and res_blocks >= 0, got {self.features}, {self.res_blocks}")
        if min(self.style_weight, self.content_weight, self.tv_weight) < 0:
            raise ValueError("loss weights must be >= 0")


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    # instance norm (Ulyanov et al. 2016) instead of the paper's batch norm: much better stylisation
    return nn.Sequential(nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride),
                         nn.InstanceNorm2d(cout, affine=True), nn.ReLU(True))


class _IN_Res(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(c, c, 3), nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3),
                                  nn.InstanceNorm2d(c, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformNet(nn.Module):
    """(B, 3, H, W) content in [0, 1] -> (B, 3, H, W) stylised in [0, 1].

    Two stride-2 downsamplings, residual blocks, nearest-neighbour upsampling + conv (avoids the
    checkerboard of transposed convs, Odena et al. 2016). Any size; padded to a multiple of 4.
    """

    def __init__(self, config: JohnsonConfig) -> None:
        super().__init__()
        f = config.features
        self.down = nn.Sequential(_conv(3, f, 9), _conv(f, 2 * f, 3, 2), _conv(2 * f, 4 * f, 3, 2))
        self.res = nn.Sequential(*[_IN_Res(4 * f) for _ in range(config.res_blocks)])
        self.up = nn.Sequential(nn.Upsample(scale_factor=2), _conv(4 * f, 2 * f, 3),
                                nn.Upsample(scale_factor=2), _conv(2 * f, f, 3),
                                nn.ReflectionPad2d(4), nn.Conv2d(f, 3, 9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x
        return torch.sigmoid(self.up(self.res(self.down(xp - 0.5))))[..., :h, :w]


def style_loss(feats: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Sum over style layers of squared Frobenius distances between Gram matrices (mean over batch)."""
    return sum(((gram(feats[k]) - targets[k]) ** 2).sum((1, 2)).mean() for k in STYLE_LAYERS)


def _tv(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().sum() + (x[..., :, 1:] - x[..., :, :-1]).abs().sum()


def fit_size(image: torch.Tensor, longest: int) -> torch.Tensor:
    """Resize (1, C, H, W) so its longest side is ``longest`` (antialiased bilinear)."""
    h, w = image.shape[-2:]
    s = longest / max(h, w)
    size = (max(8, round(h * s)), max(8, round(w * s)))
    return F.interpolate(image, size=size, mode="bilinear", antialias=s < 1, align_corners=False).clamp(0, 1)


class JohnsonObjective(NetworksObjective):
    """Feed-forward style transfer for one style; ``batch = {"images": (N, 3, p, p) uint8}`` content."""

    kind = "style"
    config_class = JohnsonConfig

    def __init__(self, config: JohnsonConfig) -> None:
        self.config = config
        self.nets: dict[str, nn.Module] = {"net": TransformNet(config)}
        self._encoder: nn.Module | None = None
        self._style: torch.Tensor | None = None
        self._targets: dict[str, torch.Tensor] | None = None

    def encoder(self, device: torch.device) -> nn.Module:
        """The frozen loss encoder, built on first use (not part of the saved model)."""
        if self._encoder is None:
            self._encoder = load_encoder(self.config.vgg_weights, self.config.encoder_seed)
        return self._encoder.to(device)

    def set_style(self, style: torch.Tensor) -> None:
        """Style image (1, 3, H, W) in [0, 1]; resized to ``style_size``."""
        self._style, self._targets = fit_size(style.float(), self.config.style_size), None

    def set_style_image(self, path: str | None, meta: dict[str, Any]) -> None:
        """Read the style file for training and record it (and the encoder used) in ``meta``."""
        if not path:
            raise BadInputError("--task style needs --style IMG (the style image to learn)")
        from aigc.restore.pipeline import read_input

        self.set_style(read_input(path, "RGB"))
        meta["style"] = {"file": Path(path).name, "encoder": self.encoder(torch.device("cpu")).label}

    def make_data(self, spec: str, *, patch: int | None, n: int, seed: int) -> dict[str, torch.Tensor]:
        arrays, _ = load_images(spec, mode="RGB")
        return {"images": image_patches(arrays, patch or 128, n, seed, 3)}

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        if self._style is None:
            raise BadInputError("no style image set: call set_style(...) before training")
        enc = self.encoder(ctx.device)
        if self._targets is None:
            with torch.no_grad():
                self._targets = {k: gram(v) for k, v in enc(self._style.to(ctx.device)).items()}
        (x,) = random_dihedral(ctx.generator, batch["images"])
        x = x.float() / 255.0
        y = nets["net"](x)
        fy = enc(y.float())
        with torch.no_grad():
            fx = enc(x)
        content = F.mse_loss(fy[CONTENT_LAYER], fx[CONTENT_LAYER])
        style = style_loss(fy, self._targets)
        tv = _tv(y) / y.shape[0]
        c = self.config
        loss = c.content_weight * content + c.style_weight * style + c.tv_weight * tv
        return {"loss": loss, "content": content, "style": style}

    def receptive_radius(self) -> int:
        return 64

    def restore(self, nets: Mapping[str, nn.Module], x: torch.Tensor) -> torch.Tensor:
        return nets["net"](x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)


def gatys(content: torch.Tensor, style: torch.Tensor, encoder: nn.Module, *, steps: int = 300,
          style_weight: float = 1e5, content_weight: float = 1.0, lr: float = 0.02,
          generator: torch.Generator | None = None, noise: float = 0.0, progress: bool = False) -> torch.Tensor:
    """Optimise an image (1, 3, H, W) to match ``content``'s features and ``style``'s Gram matrices.

    Starts from the content image (plus ``noise`` std of Gaussian noise drawn from ``generator``)
    and runs Adam on the pixels (Gatys et al. used L-BFGS; Adam is simpler and close).
    """
    with torch.no_grad():
        targets = {k: gram(v) for k, v in encoder(style).items()}
        content_feat = encoder(content)[CONTENT_LAYER]
    start = content + noise * torch.randn(content.shape, generator=generator, device=content.device)
    image = start.clamp(0, 1).clone().requires_grad_(True)
    opt = torch.optim.Adam([image], lr=lr)
    from tqdm.auto import trange

    for _ in trange(steps, desc="stylize", unit="step", disable=not progress, mininterval=0.5):
        feats = encoder(image)
        loss = (content_weight * F.mse_loss(feats[CONTENT_LAYER], content_feat)
                + style_weight * style_loss(feats, targets))
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            image.clamp_(0, 1)
    return image.detach()
