"""Any folder of images, optionally one sub-folder per class (the sub-folder names are the labels)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from aigc.core.errors import BadInputError
from aigc.data.images import ImageSet, split_slice

__all__ = ["load_folder", "read_image", "MAX_PIXELS"]

MAX_PIXELS = 64_000_000  # refuse decompression bombs (PIL warns at 89M, errors at 179M)


def read_image(path: Path, mode: str | None = None) -> np.ndarray:
    """Decode one image file to an (H, W) or (H, W, 3) uint8 array; clear error on bad files."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise BadInputError(f"{path}: {img.width}x{img.height} pixels exceeds the "
                                        f"limit of {MAX_PIXELS:,}")
                img.load()
                target = mode or ("L" if img.mode in ("1", "L", "I;16", "I", "LA") else "RGB")
                return np.asarray(img.convert(target))
    except BadInputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise BadInputError(f"{path}: not a readable image ({exc.__class__.__name__})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(f"{path}: corrupt or truncated image ({exc})") from exc


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts))


def load_folder(root: Path, *, split: str = "all", skip_bad: bool = False) -> ImageSet:
    """Load every image under ``root``; all must share one size (resize with ``image_size``)."""
    if not root.is_dir():
        raise BadInputError(f"image folder {str(root)!r} does not exist or is not a folder")
    files = _files(root)
    arrays, rel, skipped = [], [], []
    for path in files:
        try:
            arrays.append(read_image(path))
            rel.append(path.relative_to(root))
        except BadInputError as exc:
            if not skip_bad:
                raise BadInputError(f"{exc} (pass --skip-bad to skip such files)") from exc
            skipped.append(str(path))
    if not arrays:
        raise BadInputError(f"no readable images in {root}" + (f" ({len(skipped)} skipped)" if skipped else ""))
    rgb = any(a.ndim == 3 for a in arrays)
    arrays = [np.repeat(a[..., None], 3, 2) if rgb and a.ndim == 2 else a for a in arrays]
    shapes = {a.shape[:2] for a in arrays}
    if len(shapes) > 1:
        arrays = _common_size(arrays, rgb)
    images = torch.from_numpy(np.stack(arrays)).float().div_(255)
    images = images.permute(0, 3, 1, 2) if rgb else images.unsqueeze(1)
    labels, names = _labels(rel)
    keep = _split_indices(labels, len(images), split)
    return ImageSet(images[keep].contiguous(), None if labels is None else labels[keep], names,
                    f"folder:{root}", skipped)


def _split_indices(labels: torch.Tensor | None, n: int, split: str) -> torch.Tensor:
    """Indices of ``split``: the first 90 % of files (sorted by path) train, the rest test - within
    each class when the folder has class sub-folders, so that every class is in both splits
    (over the whole sorted list the last class would be all test and never trained on)."""
    if labels is None:
        return torch.arange(n)[split_slice(n, split)]
    parts = [torch.nonzero(labels == c).flatten() for c in torch.unique(labels)]
    return torch.sort(torch.cat([idx[split_slice(len(idx), split)] for idx in parts])).values


def _common_size(arrays: list[np.ndarray], rgb: bool) -> list[np.ndarray]:
    """Centre-crop to the smallest square then resize to the smallest side (so sets of mixed sizes load)."""
    side = min(min(a.shape[:2]) for a in arrays)
    out = []
    for a in arrays:
        h, w = a.shape[:2]
        m = min(h, w)
        crop = a[(h - m) // 2:(h - m) // 2 + m, (w - m) // 2:(w - m) // 2 + m]
        img = Image.fromarray(crop).resize((side, side), Image.BICUBIC)
        out.append(np.asarray(img))
    return out


def _labels(rel: list[Path]) -> tuple[torch.Tensor | None, list[str] | None]:
    if not rel or any(len(p.parts) < 2 for p in rel):
        return None, None
    names = sorted({p.parts[0] for p in rel})
    index = {n: i for i, n in enumerate(names)}
    return torch.tensor([index[p.parts[0]] for p in rel], dtype=torch.long), names
