"""SRGAN-style fine-tuning (Ledig et al. 2017): an SRResNet generator trained with a pixel loss, a
perceptual (feature) loss and a non-saturating adversarial loss against a patch discriminator.

Start from a trained SRResNet (``aigc train restore --arch srgan --init DIR``): the paper
pre-trains with MSE first, since adversarial training from scratch is unstable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.core.errors import BadInputError
from aigc.core.modeldir import WEIGHTS_NAME, load_weights, read_config, split_prefix
from aigc.restore.features import CONTENT_LAYER, load_encoder
from aigc.restore.sr import SRObjective, SRResNetConfig, SRResNetNet

__all__ = ["SRGANConfig", "Discriminator", "SRGANObjective"]


@dataclass(kw_only=True)
class SRGANConfig(SRResNetConfig):
    d_features: int = 32  # SRGAN's D starts at 64; 32 suits CPU budgets
    adv_weight: float = 1e-3  # Ledig et al. 2017, eq. 3
    perceptual_weight: float = 1.0  # feature (content) loss, "VGG54" in the paper
    pixel_weight: float = 1.0
    vgg_weights: str | None = None  # None = seeded random-feature encoder (see ``features``)
    encoder_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.d_features < 4 or min(self.adv_weight, self.perceptual_weight, self.pixel_weight) < 0:
            raise ValueError("need d_features >= 4 and non-negative loss weights")


class Discriminator(nn.Module):
    """(B, C, H, W) in [0, 1] -> (B,) logits: strided conv + BN + LeakyReLU stages, global pooling."""

    def __init__(self, channels: int, features: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        cin = features
        for cout in (features, 2 * features, 2 * features, 4 * features):
            stride = 2 if cout == cin else 1
            layers += [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2, True)]
            cin = cout
        self.body = nn.Sequential(*layers, nn.Conv2d(cin, cin, 3, 2, 1), nn.LeakyReLU(0.2, True))
        self.head = nn.Linear(cin, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x - 0.5).mean((2, 3))).squeeze(1)


class SRGANObjective(SRObjective):
    """Objective: one discriminator step, then one generator step (pixel + perceptual + adversarial)."""

    config_class = SRGANConfig
    net_class = SRResNetNet
    ema_networks = ("net",)

    def __init__(self, config: SRGANConfig) -> None:
        super().__init__(config)
        self.nets["discriminator"] = Discriminator(config.channels, config.d_features)
        self._encoder: nn.Module | None = None

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        return {name: torch.optim.Adam(nets[name].parameters(), lr=lr, betas=(0.9, 0.999))
                for name in ("discriminator", "net")}

    def encoder(self, device: torch.device) -> nn.Module:
        if self._encoder is None:
            self._encoder = load_encoder(self.config.vgg_weights, self.config.encoder_seed)
        return self._encoder.to(device)

    def init_from(self, path: str) -> None:
        """Load the generator from an SRResNet (or SRGAN) model directory with the same settings."""
        cfg = read_config(path)
        if cfg.get("architecture") not in ("srresnet", "srgan"):
            raise BadInputError(f"--init {path}: expected an srresnet model, got {cfg.get('architecture')!r}")
        weights = load_weights(f"{path}/{WEIGHTS_NAME}")
        state = split_prefix(weights, "ema.net") or split_prefix(weights, "net")
        try:
            self.nets["net"].load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise BadInputError(f"--init {path}: generator settings differ ({exc})") from exc

    def _features(self, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        rgb = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return self.encoder(device)(rgb.float())[CONTENT_LAYER]

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        lr, hr = self.pair(batch, ctx)
        sr = nets["net"](lr)
        d_real, d_fake = nets["discriminator"](hr), nets["discriminator"](sr.detach())
        d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        ctx.optimize("discriminator", d_loss)
        g_logits = ctx.raw["discriminator"](sr)
        adv = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
        with torch.no_grad():
            target_feat = self._features(hr, hr.device)
        perceptual = F.mse_loss(self._features(sr, sr.device), target_feat)
        pixel = self.pixel_loss(sr.float(), hr)
        c = self.config
        g_loss = c.pixel_weight * pixel + c.perceptual_weight * perceptual + c.adv_weight * adv
        ctx.optimize("net", g_loss)
        return {"loss": g_loss, "d_loss": d_loss, "pixel": pixel, "perceptual": perceptual, "adv": adv}
