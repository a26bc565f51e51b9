"""Augmentation pipelines: ops with their settings, RandAugment, and the ``--augment SPEC`` parser.

A spec is comma-separated ``name[:arg[:arg...]]`` items applied left to right, e.g.
``hflip,crop:2,affine:10:0.1,jitter:0.3,cutout:6,randaugment:2:9``. Every op keeps labels valid
(mixup and CutMix mix labels, so they are functions for a training loop that has labels,
:func:`aigc.data.augment.functional.mixup`, not spec items).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from aigc.core.errors import BadInputError
from aigc.data.augment import functional as AF

__all__ = ["GEOMETRIC_PIXEL_OPS", "OPS", "Augment", "RandAugment", "parse_spec"]

Op = Callable[[torch.Tensor, "torch.Generator | None"], torch.Tensor]


def _autocontrast(x: torch.Tensor) -> torch.Tensor:
    lo, hi = x.amin(dim=(2, 3), keepdim=True), x.amax(dim=(2, 3), keepdim=True)
    scale = torch.where(hi > lo, 1.0 / (hi - lo).clamp_min(1e-12), torch.ones_like(hi))
    return torch.where(hi > lo, (x - lo) * scale, x)


def _sharpness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL ``ImageEnhance.Sharpness``: blend with PIL's SMOOTH filter (borders unchanged)."""
    c = x.shape[1]
    k = torch.tensor([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]], device=x.device, dtype=x.dtype) / 13
    smooth = x.clone()
    smooth[..., 1:-1, 1:-1] = F.conv2d(x, k.expand(c, 1, 3, 3), groups=c)
    return (smooth + factor.view(-1, 1, 1, 1) * (x - smooth)).clamp(0, 1)


def _posterize(x: torch.Tensor, bits: int) -> torch.Tensor:
    levels = 2 ** bits
    return torch.floor(x * 255 / (256 // levels)) * (256 // levels) / 255


def _ra_ops(x: torch.Tensor, f: float, sign: torch.Tensor) -> list[torch.Tensor]:
    """RandAugment's ops at magnitude fraction ``f`` (ranges of torchvision's RandAugment), each on
    the whole batch with a random sign per image."""
    z = torch.zeros(x.shape[0], device=x.device)
    one = torch.ones_like(z)

    def geo(angle=z, tx=z, ty=z, shear=z):
        return AF.warp(x, AF.affine_matrix(angle, tx, ty, one, shear))

    enh = one + 0.9 * f * sign
    return [x, _autocontrast(x), geo(angle=30 * f * sign), geo(shear=16.7 * f * sign),
            geo(tx=0.45 * f * sign), geo(ty=0.45 * f * sign), AF.brightness(x, enh), AF.contrast(x, enh),
            AF.saturation(x, enh), _sharpness(x, enh), _posterize(x, 8 - round(4 * f)),
            torch.where(x >= 1 - f, 1 - x, x)]


@dataclass
class RandAugment:
    """RandAugment (Cubuk et al. 2020): ``n`` ops per image, drawn uniformly from 12, at magnitude
    ``m`` of 30."""

    n: int = 2
    m: float = 9.0

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        f = self.m / 30.0
        for _ in range(self.n):
            sign = torch.where(torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5, -1.0, 1.0)
            pick = torch.randint(0, 12, (x.shape[0],), generator=generator, device=x.device)
            options = torch.stack(_ra_ops(x, f, sign))  # (12, N, C, H, W)
            x = options[pick, torch.arange(x.shape[0], device=x.device)]
        return x


def _float(text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadInputError(f"--augment: {what} must be a number, got {text!r}") from None
    if not low <= value <= high:
        raise BadInputError(f"--augment: {what} must be in [{low:g}, {high:g}], got {value:g}")
    return value


def _build(name: str, a: list[str]) -> Op:
    """One op from its name and string arguments."""
    if name in ("hflip", "vflip"):
        p = _float(a[0], f"{name} probability", 0, 1) if a else 0.5
        fn = AF.hflip if name == "hflip" else AF.vflip
        return lambda x, g: fn(x, g, p)
    if name == "crop":
        pad = int(_float(a[0], "crop padding", 1, 64)) if a else 4
        return lambda x, g: AF.random_crop(x, g, pad)
    if name == "affine":
        deg = _float(a[0], "affine degrees", 0, 180) if a else 15.0
        tr = _float(a[1], "affine translate", 0, 0.5) if len(a) > 1 else 0.1
        zoom = _float(a[2], "affine zoom", 0, 0.9) if len(a) > 2 else 0.1
        shear = _float(a[3], "affine shear", 0, 45) if len(a) > 3 else 0.0
        return lambda x, g: AF.affine(x, g, deg, tr, (1 - zoom, 1 + zoom), shear)
    if name == "jitter":
        v = _float(a[0], "jitter strength", 0, 1) if a else 0.2
        return lambda x, g: AF.color_jitter(x, g, v, v, v)
    if name == "cutout":
        size = int(_float(a[0], "cutout size", 1, 4096)) if a else 8
        return lambda x, g: AF.cutout(x, g, size)
    if name == "randaugment":
        n = int(_float(a[0], "randaugment n", 1, 8)) if a else 2
        m = _float(a[1], "randaugment magnitude", 0, 30) if len(a) > 1 else 9.0
        return RandAugment(n, m)
    raise AssertionError(name)


OPS = {"hflip": "hflip[:P]", "vflip": "vflip[:P]", "crop": "crop[:PADDING]",
       "affine": "affine[:DEGREES[:TRANSLATE[:ZOOM[:SHEAR]]]]", "jitter": "jitter[:STRENGTH]",
       "cutout": "cutout[:SIZE]", "randaugment": "randaugment[:N[:M]]"}
# ops whose sizes are in pixels: images of different sizes in one batch would not stay aligned
GEOMETRIC_PIXEL_OPS = frozenset({"crop", "cutout", "randaugment"})


class Augment:
    """A sequence of ops applied in order: ``aug(x, generator)`` on (N, C, H, W) in [0, 1]."""

    def __init__(self, spec: str, ops: list[tuple[str, Op]]) -> None:
        self.spec, self.ops = spec, ops

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.ops]

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if x.ndim != 4:
            raise BadInputError(f"augmentations take (N, C, H, W) images, got shape {tuple(x.shape)}")
        for _, op in self.ops:
            x = op(x, generator)
        return x


def parse_spec(spec: str) -> Augment:
    """``"hflip,crop:2,randaugment:2:9"`` -> :class:`Augment`; a clear error names a bad item."""
    ops: list[tuple[str, Op]] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name, *args = item.split(":")
        if name in ("mixup", "cutmix"):
            raise BadInputError(f"--augment: {name} mixes labels, so it is not a per-image op; call "
                                f"aigc.data.augment.functional.{name} in a loop that has soft labels")
        if name not in OPS:
            raise BadInputError(f"--augment: unknown op {name!r}; choose from {', '.join(OPS.values())}")
        if len(args) > OPS[name].count(":"):
            raise BadInputError(f"--augment: {item!r} has too many arguments; the form is {OPS[name]}")
        ops.append((name, _build(name, args)))
    if not ops:
        raise BadInputError(f"--augment: {spec!r} names no op; e.g. --augment hflip,crop:2")
    return Augment(spec, ops)
