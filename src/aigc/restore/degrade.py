"""Degradations and training-patch helpers, following the literature's protocols.

Super-resolution: bicubic degradation with PIL's ``BICUBIC`` resize on uint8 images (the
MATLAB-free pipelines' choice). It differs slightly from MATLAB ``imresize`` (used by SRCNN, EDSR
and their published tables): both use the Keys cubic with a = -0.5 and antialias when
shrinking, but PIL resamples in fixed point and rounds to uint8 between its horizontal and
vertical passes, so LR inputs differ by about +-1 grey level and PSNR by roughly 0.05-0.1 dB.
Denoising: additive white Gaussian noise with ``sigma`` on the 0-255 scale, not clipped or
quantised (the DnCNN protocol, Zhang et al. 2017).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from aigc.core.errors import BadInputError

__all__ = ["modcrop", "bicubic_resize", "bicubic_downscale", "bicubic_upscale", "add_noise",
           "noise_sigmas", "dihedral", "random_dihedral", "random_crops", "random_masks"]


def modcrop(array: np.ndarray, scale: int) -> np.ndarray:
    """Crop (H, W[, C]) so both sides are multiples of ``scale`` (the SR evaluation convention)."""
    h, w = array.shape[:2]
    return array[:h - h % scale, :w - w % scale]


def bicubic_resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """PIL bicubic resize of an (H, W[, C]) uint8 array to ``size = (height, width)``."""
    if array.dtype != np.uint8:
        raise BadInputError(f"bicubic_resize needs a uint8 image, got {array.dtype}")
    img = Image.fromarray(array)
    return np.asarray(img.resize((size[1], size[0]), Image.BICUBIC))


def bicubic_downscale(array: np.ndarray, scale: int) -> np.ndarray:
    """The SR degradation: (H, W[, C]) uint8 (H, W multiples of ``scale``) -> (H/s, W/s[, C])."""
    h, w = array.shape[:2]
    if h % scale or w % scale:
        raise BadInputError(f"image {w}x{h} is not a multiple of scale {scale}; modcrop it first")
    return bicubic_resize(array, (h // scale, w // scale))


def bicubic_upscale(array: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline: (h, w[, C]) uint8 -> (h*s, w*s[, C]) uint8."""
    h, w = array.shape[:2]
    return bicubic_resize(array, (h * scale, w * scale))


def noise_sigmas(n: int, sigma: float, sigma_max: float | None, generator: torch.Generator | None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """(n,) noise levels on the 0-255 scale: all ``sigma``, or uniform in [sigma, sigma_max] (blind)."""
    if sigma_max is None:
        return torch.full((n,), float(sigma), device=device)
    u = torch.rand(n, generator=generator, device=device)
    return sigma + (sigma_max - sigma) * u


def add_noise(images: torch.Tensor, sigma: float | torch.Tensor,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] plus N(0, (sigma/255)^2) noise; ``sigma`` a float or (N,) tensor."""
    s = torch.as_tensor(sigma, dtype=images.dtype, device=images.device)
    s = s.view(-1, 1, 1, 1) if s.ndim == 1 else s
    noise = torch.randn(images.shape, generator=generator, device=images.device, dtype=images.dtype)
    return images + noise * (s / 255.0)


def dihedral(images: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th (0..7) of the 8 flips/rotations of (N, C, H, W) images (square patches)."""
    out = torch.rot90(images, k % 4, dims=(-2, -1))
    return out.flip(-1) if k >= 4 else out


def random_dihedral(generator: torch.Generator | None, *tensors: torch.Tensor) -> list[torch.Tensor]:
    """Apply one random flip/rotation per sample, the same one to every tensor given.

    Tensors are (N, C, h_i, w_i) square patches (e.g. LR and HR); the standard SR/denoising
    augmentation (EDSR, DnCNN). One draw per sample keeps batches varied.
    """
    device = tensors[0].device
    ks = torch.randint(0, 8, (tensors[0].shape[0],), generator=generator, device=device)
    outs = [t.clone() for t in tensors]
    for k in ks.unique().tolist():
        sel = ks == k
        for out, t in zip(outs, tensors):
            out[sel] = dihedral(t[sel], k)
    return outs


def random_crops(arrays: list[np.ndarray], size: int, n: int, rng: np.random.Generator,
                 *, scale: int = 1) -> tuple[list[np.ndarray], list[tuple[int, int, int]]]:
    """``n`` random (size x size) crops, at positions multiple of ``scale``, from uint8 arrays.

    Images are chosen in proportion to their area. Returns the crops and their (image, y, x).
    """
    usable = [i for i, a in enumerate(arrays) if min(a.shape[:2]) >= size]
    if not usable:
        raise BadInputError(f"no training image is at least {size}x{size} pixels; lower the patch size")
    areas = np.array([arrays[i].shape[0] * arrays[i].shape[1] for i in usable], dtype=np.float64)
    picks = rng.choice(usable, size=n, p=areas / areas.sum())
    crops, where = [], []
    for i in picks:
        h, w = arrays[i].shape[:2]
        y = int(rng.integers(0, (h - size) // scale + 1)) * scale
        x = int(rng.integers(0, (w - size) // scale + 1)) * scale
        crops.append(arrays[i][y:y + size, x:x + size])
        where.append((int(i), y, x))
    return crops, where


def random_masks(n: int, height: int, width: int, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu", *, max_boxes: int = 3) -> torch.Tensor:
    """(n, 1, H, W) hole masks (1 = missing, 0 = known): 1..max_boxes random rectangles each.

    Boxes span 10-50% of each side, like the rectangular holes of context encoders
    (Pathak et al. 2016); together with random sizes they cover ~5-40% of the image.
    """
    masks = torch.zeros(n, 1, height, width, device=device)
    u = torch.rand(n, max_boxes, 5, generator=generator, device=device)
    ys = torch.arange(height, device=device).view(1, -1, 1)
    xs = torch.arange(width, device=device).view(1, 1, -1)
    for b in range(max_boxes):
        bh = ((0.1 + 0.4 * u[:, b, 0]) * height).long().clamp(min=1).view(-1, 1, 1)
        bw = ((0.1 + 0.4 * u[:, b, 1]) * width).long().clamp(min=1).view(-1, 1, 1)
        y0 = (u[:, b, 2].view(-1, 1, 1) * (height - bh + 1)).long()
        x0 = (u[:, b, 3].view(-1, 1, 1) * (width - bw + 1)).long()
        box = (ys >= y0) & (ys < y0 + bh) & (xs >= x0) & (xs < x0 + bw)
        keep = (b == 0) | (u[:, b, 4] < 0.5)  # the first box always, the others with p = 0.5
        masks[:, 0] = torch.maximum(masks[:, 0], (box & keep.view(-1, 1, 1)).float())
    return masks
