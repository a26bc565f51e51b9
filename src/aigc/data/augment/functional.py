"""Seeded image augmentations as pure functions of (N, C, H, W) float tensors in [0, 1].

Each function draws its randomness from the ``generator`` passed in (one draw per image), so the
same generator state gives the same output. Photometric formulas follow PIL's ``ImageEnhance``
(and torchvision's tensor ops): brightness blends with black, contrast with the mean grey level,
saturation with the greyscale image. Geometric ops act in normalised coordinates
(``affine_grid``), so images of different sizes given the same draws stay aligned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from aigc.data.color import luma

__all__ = [
    "affine",
    "affine_matrix",
    "brightness",
    "color_jitter",
    "contrast",
    "cutmix",
    "cutout",
    "hflip",
    "mixup",
    "random_crop",
    "saturation",
    "uniform",
    "vflip",
    "warp",
]


def uniform(n: int, low: float, high: float, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """(n,) draws from U[low, high)."""
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _chosen(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    return (torch.rand(x.shape[0], generator=generator, device=x.device) < p).view(-1, 1, 1, 1)


def hflip(x: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5) -> torch.Tensor:
    """Flip each image left-right with probability ``p``."""
    return torch.where(_chosen(x, p, generator), x.flip(-1), x)


def vflip(x: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5) -> torch.Tensor:
    """Flip each image upside down with probability ``p``."""
    return torch.where(_chosen(x, p, generator), x.flip(-2), x)


def random_crop(x: torch.Tensor, generator: torch.Generator | None = None, padding: int = 4) -> torch.Tensor:
    """Pad by ``padding`` (reflect) and crop back to (H, W) at a random offset per image
    (the CIFAR recipe of He et al. 2016)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4, mode="reflect" if padding < min(h, w) else "replicate")
    off = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator, device=x.device).tolist()
    return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(off)])


def affine_matrix(angle: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, scale: torch.Tensor,
                  shear: torch.Tensor) -> torch.Tensor:
    """(N, 2, 3) ``affine_grid`` matrices: output pixel -> input sample point, in [-1, 1] coordinates.

    ``angle``/``shear`` in degrees (counter-clockwise on screen), ``tx``/``ty`` as fractions of the
    width/height, ``scale`` > 1 enlarges the content."""
    # y points down in image coordinates: a counter-clockwise turn on screen is a negative angle there
    a, s = -torch.deg2rad(angle), torch.deg2rad(shear)
    cos, sin = torch.cos(a), torch.sin(a)
    # forward map A = R(angle) @ Shear_x(shear) * scale; the grid needs its inverse
    fwd = torch.stack([torch.stack([cos, cos * torch.tan(s) - sin], -1),
                       torch.stack([sin, sin * torch.tan(s) + cos], -1)], -2) * scale.view(-1, 1, 1)
    inv = torch.linalg.inv(fwd)
    t = torch.stack([2 * tx, 2 * ty], -1).unsqueeze(-1)
    return torch.cat([inv, -inv @ t], -1)


def affine(x: torch.Tensor, generator: torch.Generator | None = None, degrees: float = 15.0,
           translate: float = 0.1, scale: tuple[float, float] = (0.9, 1.1), shear: float = 0.0,
           fill: float = 0.0) -> torch.Tensor:
    """Random rotation in [-degrees, degrees], shift up to ``translate`` of the size, zoom in
    ``scale`` and x-shear in [-shear, shear]; uncovered pixels get ``fill``. Bilinear."""
    n, dev = x.shape[0], x.device
    angle = uniform(n, -degrees, degrees, generator, dev)
    tx, ty = uniform(n, -translate, translate, generator, dev), uniform(n, -translate, translate, generator, dev)
    sc = uniform(n, scale[0], scale[1], generator, dev)
    sh = uniform(n, -shear, shear, generator, dev)
    return warp(x, affine_matrix(angle, tx, ty, sc, sh), fill)


def warp(x: torch.Tensor, theta: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """Resample ``x`` with (N, 2, 3) ``affine_grid`` matrices; outside pixels get ``fill``."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    out = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out + fill


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (other + factor.view(-1, 1, 1, 1) * (x - other)).clamp(0.0, 1.0)


def brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL ``ImageEnhance.Brightness``: blend with black; ``factor`` (N,)."""
    return _blend(x, torch.zeros_like(x), factor)


def contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL ``ImageEnhance.Contrast``: blend with the image's mean grey level; ``factor`` (N,)."""
    grey = luma(x) if x.shape[1] == 3 else x
    return _blend(x, grey.mean(dim=(1, 2, 3), keepdim=True).expand_as(x), factor)


def saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL ``ImageEnhance.Color``: blend with the greyscale image (no-op for 1 channel)."""
    if x.shape[1] != 3:
        return x
    return _blend(x, luma(x).expand_as(x), factor)


def color_jitter(x: torch.Tensor, generator: torch.Generator | None = None, brightness_: float = 0.2,
                 contrast_: float = 0.2, saturation_: float = 0.2) -> torch.Tensor:
    """Brightness, contrast and saturation factors drawn from [1 - v, 1 + v], applied in that order."""
    n, dev = x.shape[0], x.device
    x = brightness(x, uniform(n, 1 - brightness_, 1 + brightness_, generator, dev))
    x = contrast(x, uniform(n, 1 - contrast_, 1 + contrast_, generator, dev))
    return saturation(x, uniform(n, 1 - saturation_, 1 + saturation_, generator, dev))


def _box(n: int, h: int, w: int, size_h: torch.Tensor, size_w: torch.Tensor,
         generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """(N, 1, H, W) masks, 1 inside a box of the given sizes centred uniformly (clipped at edges)."""
    cy = torch.randint(0, h, (n,), generator=generator, device=device)
    cx = torch.randint(0, w, (n,), generator=generator, device=device)
    ys, xs = torch.arange(h, device=device).view(1, h, 1), torch.arange(w, device=device).view(1, 1, w)
    y0, x0 = (cy - size_h // 2).view(-1, 1, 1), (cx - size_w // 2).view(-1, 1, 1)
    inside = (ys >= y0) & (ys < y0 + size_h.view(-1, 1, 1)) & (xs >= x0) & (xs < x0 + size_w.view(-1, 1, 1))
    return inside.unsqueeze(1).to(torch.float32)


def cutout(x: torch.Tensor, generator: torch.Generator | None = None, size: int = 8, fill: float = 0.0) -> torch.Tensor:
    """Cutout (DeVries & Taylor 2017): one ``size`` x ``size`` square per image set to ``fill``."""
    n, _, h, w = x.shape
    sizes = torch.full((n,), size, device=x.device)
    mask = _box(n, h, w, sizes, sizes, generator, x.device).to(x.dtype)
    return x * (1 - mask) + fill * mask


def _beta(n: int, alpha: float, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Beta(alpha, alpha) draws from two seeded Gamma draws (torch's Beta takes no generator)."""
    a = torch._standard_gamma(torch.full((n,), alpha, device=device), generator=generator)
    b = torch._standard_gamma(torch.full((n,), alpha, device=device), generator=generator)
    return a / (a + b)


def mixup(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None,
          alpha: float = 0.2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """mixup (Zhang et al. 2018): each image blended with a random partner by lam ~ Beta(alpha, alpha).

    ``y``: (N, K) one-hot or soft labels. Returns (images, labels mixed by the same lam, lam (N,))."""
    n = x.shape[0]
    perm = torch.randperm(n, generator=generator, device=x.device)
    lam = _beta(n, alpha, generator, x.device)
    mixed = lam.view(-1, 1, 1, 1) * x + (1 - lam.view(-1, 1, 1, 1)) * x[perm]
    return mixed, lam.view(-1, 1) * y + (1 - lam.view(-1, 1)) * y[perm], lam


def cutmix(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None,
           alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CutMix (Yun et al. 2019): a box of a random partner pasted in; labels mixed by the kept area.

    Returns (images, labels, lam (N,)) where lam is the exact fraction of each image's own pixels."""
    n, _, h, w = x.shape
    perm = torch.randperm(n, generator=generator, device=x.device)
    cut = torch.sqrt(1 - _beta(n, alpha, generator, x.device))
    mask = _box(n, h, w, (cut * h).long(), (cut * w).long(), generator, x.device).to(x.dtype)
    mixed = x * (1 - mask) + x[perm] * mask
    lam = 1 - mask.mean(dim=(1, 2, 3))
    return mixed, lam.view(-1, 1) * y + (1 - lam.view(-1, 1)) * y[perm], lam
