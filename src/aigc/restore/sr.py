"""Super-resolution networks and objectives: ESPCN (Shi et al. 2016) and SRResNet / EDSR-baseline
(Ledig et al. 2017; Lim et al. 2017), trained with an L1 or L2 pixel loss.

Models with ``channels=1`` work on the BT.601 Y channel (as SRCNN and ESPCN do); colour images
then take Cb/Cr from bicubic upsampling. ``residual=True`` adds the bicubic upsampling of the
input to the network output, so the network learns only the missing detail (VDSR, Kim et al.
2016), which makes short CPU training budgets go much further.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from aigc.data.color import rgb_to_ycbcr, ycbcr_to_rgb
from aigc.nn.conv import ResBlock, conv3
from aigc.restore.blocks import Upsampler, check_scale
from aigc.restore.data import load_images, sr_patches
from aigc.restore.degrade import random_dihedral
from aigc.train.objective import NetworksObjective

__all__ = ["ESPCNConfig", "SRResNetConfig", "ESPCNNet", "SRResNetNet", "ESPCNObjective", "SRResNetObjective",
           "SRObjective", "bicubic_torch", "sr_input"]

LOSSES = ("l1", "l2")


def _check(config: "ESPCNConfig | SRResNetConfig") -> None:
    check_scale(config.scale)
    if config.channels not in (1, 3):
        raise ValueError(f"channels must be 1 (Y) or 3 (RGB), got {config.channels}")
    if config.features < 4:
        raise ValueError(f"features must be >= 4, got {config.features}")
    if config.loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {config.loss!r}")


@dataclass(kw_only=True)
class ESPCNConfig:
    scale: int = 2
    channels: int = 1  # 1 = Y channel (Shi et al. 2016), 3 = RGB
    features: int = 64  # width of the first layer; the second has half (64-32 in the paper)
    residual: bool = True  # add bicubic upsampling (VDSR-style global residual)
    loss: str = "l1"  # L1 converges faster than L2 for SR (Lim et al. 2017)

    def __post_init__(self) -> None:
        _check(self)


@dataclass(kw_only=True)
class SRResNetConfig:
    scale: int = 2
    channels: int = 1
    features: int = 64  # EDSR-baseline: 64 features, 16 blocks
    blocks: int = 16
    res_scale: float = 1.0  # 0.1 only needed for very wide EDSR (Lim et al. 2017)
    residual: bool = True
    loss: str = "l1"

    def __post_init__(self) -> None:
        _check(self)
        if self.blocks < 1:
            raise ValueError(f"blocks must be >= 1, got {self.blocks}")


def bicubic_torch(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling (a = -0.75 in torch; used only as the residual base and for Cb/Cr)."""
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)


class ESPCNNet(nn.Module):
    """(B, C, h, w) in [0, 1] -> (B, C, h*s, w*s): 5x5 and 3x3 tanh convs, then a sub-pixel layer."""

    def __init__(self, config: ESPCNConfig) -> None:
        super().__init__()
        f, c, s = config.features, config.channels, config.scale
        self.body = nn.Sequential(nn.Conv2d(c, f, 5, padding=2), nn.Tanh(),
                                  conv3(f, f // 2), nn.Tanh(),
                                  conv3(f // 2, c * s * s), nn.PixelShuffle(s))
        self.scale, self.residual = s, config.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x - 0.5)
        return out + bicubic_torch(x, self.scale) if self.residual else out + 0.5


class SRResNetNet(nn.Module):
    """(B, C, h, w) in [0, 1] -> (B, C, h*s, w*s): head conv, residual blocks, sub-pixel upsampling."""

    def __init__(self, config: SRResNetConfig) -> None:
        super().__init__()
        f, c = config.features, config.channels
        self.head = conv3(c, f)
        self.body = nn.Sequential(*[ResBlock(f, config.res_scale) for _ in range(config.blocks)], conv3(f, f))
        self.tail = nn.Sequential(Upsampler(f, config.scale), conv3(f, c))
        self.scale, self.residual = config.scale, config.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x - 0.5)
        out = self.tail(h + self.body(h))
        return out + bicubic_torch(x, self.scale) if self.residual else out + 0.5


def sr_input(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 or float (N, C, H, W) training patches -> float [0, 1] with the model's channels."""
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    if channels == 1 and x.shape[1] == 3:
        return rgb_to_ycbcr(x)[:, :1]
    if channels == 3 and x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1)
    return x


class SRObjective(NetworksObjective):
    """Pixel-loss SR objective; ``batch = {"lr": (N, C, h, w), "hr": (N, C, sh, sw)}`` uint8 patches."""

    kind = "sr"
    net_class: type[nn.Module] = ESPCNNet
    config_class: type = ESPCNConfig

    def __init__(self, config) -> None:
        self.config = config
        self.nets: dict[str, nn.Module] = {"net": self.net_class(config)}

    def example_inputs(self, name: str, batch: int = 1) -> tuple[torch.Tensor, ...]:
        """``aigc export``: a low-resolution (B, C, 16, 16) image in [0, 1]."""
        if name != "net":
            raise KeyError(name)
        return (torch.rand(batch, self.config.channels, 16, 16, generator=torch.Generator().manual_seed(0)),)

    @property
    def scale(self) -> int:
        return self.config.scale

    def pair(self, batch: Mapping[str, torch.Tensor], ctx) -> tuple[torch.Tensor, torch.Tensor]:
        """Augmented (LR, HR) float pair in the model's channels."""
        lr, hr = random_dihedral(ctx.generator, batch["lr"], batch["hr"])
        return sr_input(lr, self.config.channels), sr_input(hr, self.config.channels)

    def pixel_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(sr, hr) if self.config.loss == "l1" else F.mse_loss(sr, hr)

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        lr, hr = self.pair(batch, ctx)
        sr = nets["net"](lr)
        loss = self.pixel_loss(sr.float(), hr)
        mse = F.mse_loss(sr.detach().float().clamp(0, 1), hr)
        return {"loss": loss, "psnr": -10 * torch.log10(mse.clamp(min=1e-10))}

    def make_data(self, spec: str, *, patch: int | None, n: int, seed: int) -> dict[str, torch.Tensor]:
        """Training patches from image folder ``spec``; ``patch`` is the LR patch size (default 24)."""
        arrays, _ = load_images(spec)
        return sr_patches(arrays, self.scale, patch or 24, n, seed)

    def receptive_radius(self) -> int:
        """Input pixels of context each output pixel depends on (for exact tiling)."""
        net = self.nets["net"]
        if isinstance(net, SRResNetNet):
            return 2 * len(net.body) + 4
        return 6

    def restore(self, nets: Mapping[str, nn.Module], x: torch.Tensor) -> torch.Tensor:
        """(1, C, h, w) image in [0, 1] (grey or RGB) -> (1, C, sh, sw) upscaled, not clamped."""
        net = nets["net"]
        if self.config.channels == 1 and x.shape[1] == 3:
            ycc = rgb_to_ycbcr(x)
            y = net(ycc[:, :1])
            return ycbcr_to_rgb(torch.cat([y, bicubic_torch(ycc[:, 1:], self.scale)], 1))
        if self.config.channels == 3 and x.shape[1] == 1:
            return net(x.expand(-1, 3, -1, -1)).mean(1, keepdim=True)
        return net(x)


class ESPCNObjective(SRObjective):
    """Efficient sub-pixel CNN (Shi et al. 2016)."""

    net_class = ESPCNNet
    config_class = ESPCNConfig


class SRResNetObjective(SRObjective):
    """SRResNet / EDSR-baseline: residual blocks without batch norm, sub-pixel upsampling."""

    net_class = SRResNetNet
    config_class = SRResNetConfig
