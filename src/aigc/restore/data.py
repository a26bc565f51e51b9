"""Training and test data for restoration: image folders of any sizes, fixed seeded patch sets.

The Trainer batches in-memory tensors, so training patches are cut once (seeded) into uint8
tensors; flips/rotations and noise are applied on the fly in ``training_step``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aigc.core.errors import BadInputError
from aigc.core.paths import data_dir
from aigc.data.color import LUMA_BT601
from aigc.data.folder import read_image
from aigc.restore.degrade import bicubic_downscale, modcrop, random_crops

__all__ = ["NAMED_SETS", "resolve_folder", "load_images", "sr_patches", "image_patches", "to_uint8_tensor"]

# short names for the staged benchmark folders under data_dir()
NAMED_SETS: dict[str, str] = {
    "t91": "sr-benchmarks/T91", "set5": "sr-benchmarks/Set5", "set14": "sr-benchmarks/Set14",
    "train400": "denoise-benchmarks/Train400", "bsd68": "denoise-benchmarks/BSD68",
    "set12": "denoise-benchmarks/Set12", "styles": "style-images/style", "content": "style-images/content",
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def resolve_folder(spec: str) -> Path:
    """``folder:PATH``, ``PATH`` or a name from :data:`NAMED_SETS` -> an existing folder."""
    if spec.startswith("folder:"):
        path = Path(spec[len("folder:"):]).expanduser()
    elif spec.lower() in NAMED_SETS:
        path = data_dir(NAMED_SETS[spec.lower()]) / NAMED_SETS[spec.lower()]
    else:
        path = Path(spec).expanduser()
    if not path.is_dir():
        raise BadInputError(f"image folder {str(path)!r} (from {spec!r}) does not exist; give "
                            f"folder:PATH or one of {sorted(NAMED_SETS)} (set AIGC_DATA_DIR)")
    return path


def load_images(spec: str, *, mode: str | None = None, limit: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """All images of a folder (sorted, any sizes) as uint8 (H, W) or (H, W, 3) arrays, and names.

    ``mode`` ("L" or "RGB") converts; by default grey files stay grey and others become RGB.
    """
    folder = resolve_folder(spec)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not
                   any(part.startswith(".") for part in p.relative_to(folder).parts))
    files = files[:limit] if limit else files
    if not files:
        raise BadInputError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return [read_image(p, mode) for p in files], [p.stem for p in files]


def to_uint8_tensor(arrays: list[np.ndarray], channels: int | None = None) -> torch.Tensor:
    """Equal-size (H, W[, 3]) uint8 arrays -> (N, C, H, W) uint8; grey repeated when ``channels=3``."""
    rgb = channels == 3 or (channels is None and any(a.ndim == 3 for a in arrays))
    if channels == 1:
        weights = np.array(LUMA_BT601)  # as PIL's convert("L")
        arrays = [np.clip(a @ weights, 0, 255).round().astype(np.uint8) if a.ndim == 3 else a for a in arrays]
    fixed = [np.repeat(a[..., None], 3, 2) if rgb and a.ndim == 2 else (a if rgb else a[..., None])
             for a in arrays]
    return torch.from_numpy(np.stack(fixed)).permute(0, 3, 1, 2).contiguous()


def sr_patches(arrays: list[np.ndarray], scale: int, lr_patch: int, n: int, seed: int) -> dict[str, torch.Tensor]:
    """``n`` aligned (LR, HR) patch pairs: {"lr": (n, C, p, p), "hr": (n, C, sp, sp)} uint8.

    Each image is modcropped and bicubic-downscaled whole (PIL, see ``degrade``), then LR patches
    of ``lr_patch`` pixels and their HR counterparts are cut at the same place.
    """
    rng = np.random.default_rng(seed)
    hrs = [modcrop(a, scale) for a in arrays]
    lrs = [bicubic_downscale(a, scale) for a in hrs]
    lr_crops, where = random_crops(lrs, lr_patch, n, rng)
    hp = lr_patch * scale
    hr_crops = [hrs[i][y * scale:y * scale + hp, x * scale:x * scale + hp] for i, y, x in where]
    channels = 3 if any(a.ndim == 3 for a in arrays) else 1
    return {"lr": to_uint8_tensor(lr_crops, channels), "hr": to_uint8_tensor(hr_crops, channels)}


def image_patches(arrays: list[np.ndarray], patch: int, n: int, seed: int,
                  channels: int | None = None) -> torch.Tensor:
    """``n`` random (patch x patch) crops as (n, C, patch, patch) uint8 (denoising, inpainting, style)."""
    crops, _ = random_crops(arrays, patch, n, np.random.default_rng(seed))
    return to_uint8_tensor(crops, channels)
