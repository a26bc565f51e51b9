"""Image watermark: QIM on low-frequency block-DCT coefficients of a canonical 64x64 luma grid.

Why this shape (measured in ``benchmarks/watermark.py``):
- the image's luma is resized to a fixed 64x64 grid, so a resized copy maps back to the same grid;
- the carriers are the 9 lowest AC coefficients (1 <= u + v <= 3) of each 8x8 block of that grid:
  at most 16 cycles per image, which JPEG at q=50, a x0.5 resize and noise leave nearly intact;
- per-block carriers let a cropped image be decoded from the blocks still visible (the detector
  tries crop hypotheses and erases the blocks at and beyond the cut);
- dithered QIM (see :mod:`.payload`) rejects the host, so decoding is blind; 576 carriers hold the
  56-bit codeword ~10 times.
Embedding is iterated on the final uint8 pixels (rounding, clipping) until the codeword decodes
exactly, so a clean output round-trips bit-exact. Images under 32 px on their short side are left
unmarked (too few pixels to carry 56 bits).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image
from scipy.fft import dctn, idctn

from aigc.core.errors import BadInputError
from aigc.tools.provenance.payload import (
    CODE_BITS,
    DEFAULT_KEY,
    Detection,
    carrier_rng,
    decode_soft,
    encode,
    payload_bits,
    qim_embed,
    qim_soft,
)

__all__ = ["MIN_SIZE", "STEP", "crop_hypotheses", "detect_image", "embed", "embed_image"]

GRID, BLOCK = 64, 8
STEP = 12.0  # QIM step in 8-bit luma units on the canonical grid: PSNR ~45 dB, see the benchmark
MIN_SIZE = 32
_UV = [(u, v) for s in (1, 2, 3) for u in range(s + 1) for v in [s - u]]  # 9 coefficients per block
_NB = GRID // BLOCK
CARRIERS = _NB * _NB * len(_UV)
_ITERATIONS = 8


def _layout(key: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    rng = carrier_rng(key, 1)
    bit_of = rng.permutation(CARRIERS) % CODE_BITS
    dither = rng.uniform(0, step, CARRIERS)
    return bit_of, dither


def _luma(arr: np.ndarray) -> np.ndarray:
    a = arr.astype(np.float64)
    if a.ndim == 2:
        return a
    if a.shape[2] >= 3:
        return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114
    return a[..., 0]


def _resize(plane: np.ndarray, size: tuple[int, int], resample: int = Image.BILINEAR) -> np.ndarray:
    """(H, W) float -> (h, w) float (PIL's filters, antialiased when shrinking)."""
    h, w = size
    return np.asarray(Image.fromarray(plane.astype(np.float32), mode="F").resize((w, h), resample), np.float64)


def _carriers(grid: np.ndarray) -> np.ndarray:
    """(64, 64) -> (576,) carrier values, block-major."""
    blocks = grid.reshape(_NB, BLOCK, _NB, BLOCK).transpose(0, 2, 1, 3)
    coef = dctn(blocks, axes=(2, 3), norm="ortho")
    return np.stack([coef[:, :, u, v] for u, v in _UV], axis=-1).reshape(-1)


def _from_carriers(delta: np.ndarray) -> np.ndarray:
    """(576,) carrier changes -> (64, 64) grid change."""
    coef = np.zeros((_NB, _NB, BLOCK, BLOCK))
    d = delta.reshape(_NB, _NB, len(_UV))
    for i, (u, v) in enumerate(_UV):
        coef[:, :, u, v] = d[:, :, i]
    return idctn(coef, axes=(2, 3), norm="ortho").transpose(0, 2, 1, 3).reshape(GRID, GRID)


def _check(array: np.ndarray) -> np.ndarray:
    arr = np.asarray(array)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
        raise BadInputError(f"image watermarks need an (H, W[, C]) uint8 array, got {arr.dtype} {arr.shape}")
    return arr


def embed_image(array: np.ndarray, payload: np.ndarray, *, key: int = DEFAULT_KEY,
                step: float = STEP) -> np.ndarray:
    """Return a copy of ``array`` ((H, W[, C]) uint8) carrying the 32-bit ``payload``.

    The same change is added to every colour channel (alpha untouched), so only luma moves.
    """
    arr = _check(array)
    h, w = arr.shape[:2]
    if min(h, w) < MIN_SIZE:
        raise BadInputError(f"image of {w}x{h} px is too small to watermark (needs {MIN_SIZE} px or more)")
    bit_of, dither = _layout(key, step)
    bits = encode(payload)[bit_of]
    base = arr.astype(np.float64)
    colour = slice(None) if arr.ndim == 2 else slice(0, min(3, arr.shape[2]))
    total = np.zeros((h, w))
    out = arr
    for _ in range(_ITERATIONS):
        values = _carriers(_resize(_luma(out), (GRID, GRID)))
        target = qim_embed(values, bits, step, dither)
        soft = qim_soft(values, step, dither) * (1 - 2.0 * bits)
        if soft.min() > 0.5:  # every carrier sits well inside its own bit's cell
            break
        total += _resize(_from_carriers(target - values), (h, w), Image.BICUBIC)
        marked = base.copy()
        if arr.ndim == 2:
            marked += total
        else:
            marked[..., colour] += total[..., None]
        out = np.clip(np.round(marked), 0, 255).astype(np.uint8)
    return out


def embed(array: np.ndarray, model_id: str) -> tuple[np.ndarray, dict[str, Any] | None]:
    """The writers' hook (``aigc.core.artifacts.WATERMARKERS['image']``): array + what to record."""
    arr = np.asarray(array)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or min(arr.shape[:2]) < MIN_SIZE:
        return array, None  # too small (or not 8-bit) to carry it: nothing recorded
    bits = payload_bits(model_id)
    marked = embed_image(arr, bits)
    return marked, {"scheme": "aigc-dct-qim-v1", "payload": model_id[:8], "bits": 32, "flag": 1}


def crop_hypotheses(h: int, w: int, smallest: float = 0.8) -> list[tuple[int, int, int, int]]:
    """(original height, width, top, left) of the crops the detector tries for an h x w image.

    QIM needs the grid back to a fraction of a pixel, so originals are whole pixel sizes (the
    aspect ratio kept), each with the crop window at 9 places: centred, at the 4 corners and
    the 4 edge midpoints.
    """
    out = []
    for big_h in range(h + 1, int(h / smallest) + 1):
        big_w = round(w * big_h / h)
        for fy in (0.0, 0.5, 1.0):
            for fx in (0.0, 0.5, 1.0):
                out.append((big_h, big_w, round(fy * (big_h - h)), round(fx * (big_w - w))))
    return out


def _consistency(soft: np.ndarray, bit_of: np.ndarray) -> float:
    """How strongly the carriers of each codeword bit agree: sum over bits of (vote sum)^2 / count,
    over its mean 1/2 per bit for a wrong layout (~1 there; about the carriers per bit for the right
    one, so layouts that erase more carriers are not favoured)."""
    ok = np.isfinite(soft)
    if not ok.any():
        return 0.0
    sums = np.bincount(bit_of[ok], weights=soft[ok], minlength=CODE_BITS)
    counts = np.maximum(np.bincount(bit_of[ok], minlength=CODE_BITS), 1)
    return float(np.mean(sums ** 2 / counts) / 0.5)


def _hypothesis_soft(y: np.ndarray, hyp: tuple, step: float, dither: np.ndarray) -> np.ndarray:
    big_h, big_w, top, left = hyp
    h, w = y.shape
    canvas = np.pad(y, ((top, big_h - h - top), (left, big_w - w - left)), mode="edge")
    soft = qim_soft(_carriers(_resize(canvas, (GRID, GRID))), step, dither)
    # erase blocks that reach within one grid pixel of the cut (or beyond it)
    sy, sx = GRID / big_h, GRID / big_w
    lo_y, hi_y, lo_x, hi_x = top * sy + 1, (top + h) * sy - 1, left * sx + 1, (left + w) * sx - 1
    edges = np.arange(_NB) * BLOCK
    ok_y = (edges >= lo_y) & (edges + BLOCK <= hi_y)
    ok_x = (edges >= lo_x) & (edges + BLOCK <= hi_x)
    visible = np.repeat((ok_y[:, None] & ok_x[None, :]).reshape(-1), len(_UV))
    return np.where(visible, soft, np.nan)


def detect_image(array: np.ndarray, *, key: int = DEFAULT_KEY, expected: np.ndarray | None = None,
                 search: bool = True, step: float = STEP) -> Detection:
    """Decode the payload of an (H, W[, C]) uint8 image; with ``search``, also try crops.

    Blind (``expected=None``): found when the decoded codeword's CRC-24 holds. With ``expected``
    bits: the strongest hypothesis by z-score is reported.
    """
    arr = _check(array)
    bit_of, dither = _layout(key, step)
    y = _luma(arr)
    soft = qim_soft(_carriers(_resize(y, (GRID, GRID))), step, dither)
    best = decode_soft(soft, bit_of, "image", 1, expected)
    if best.found or not search or min(arr.shape[:2]) < MIN_SIZE // 2:
        return best
    hyps = crop_hypotheses(*y.shape)
    scores = [_consistency(_hypothesis_soft(y, h, step, dither), bit_of) for h in hyps]
    for i in np.argsort(scores)[::-1][:3]:
        det = decode_soft(_hypothesis_soft(y, hyps[i], step, dither), bit_of, "image", len(hyps) + 1, expected)
        det.extra["crop"] = list(hyps[i])
        if expected is None and det.found:
            return det
        if expected is not None and (det.z or 0) > (best.z or 0):
            best = det
    return best
