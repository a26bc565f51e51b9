"""Image folders: unreadable files, exact and near duplicates (perceptual hash), blank images and
size / aspect outliers.

The perceptual hash is pHash as ``imagehash.phash`` computes it (Zauner 2010): greyscale, 32x32
Lanczos, 2-D DCT-II, the 8x8 lowest frequencies thresholded at their median -> 64 bits. Two images
whose hashes differ in at most ``near_bits`` bits are near duplicates (imagehash's docs suggest
<= 5 of 64 for "same picture"; resizing, re-encoding and mild noise stay within a few bits).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from aigc.data.clean.common import Drop, KindReport

__all__ = ["ImageRules", "clean_images", "hamming", "phash", "thumbnail_png"]

MAX_PIXELS = 64_000_000


@dataclass(kw_only=True)
class ImageRules:
    """Thresholds: ``near_bits`` (pHash distance of a near duplicate), ``blank_range`` (an image
    whose grey levels span at most this many of 255 is blank), ``area_ratio`` (an image whose pixel
    count is more than this factor above or below the median is a size outlier), ``aspect_ratio``
    (width/height more than this factor away from the median aspect is an aspect outlier),
    ``min_side`` (smaller images are too small)."""

    near_bits: int = 5
    blank_range: int = 2
    area_ratio: float = 4.0
    aspect_ratio: float = 2.0
    min_side: int = 8


def phash(image: Image.Image) -> int:
    """64-bit perceptual hash of a PIL image (bit-for-bit imagehash.phash's, hash_size 8)."""
    from scipy.fft import dct

    pixels = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    coeffs = dct(dct(pixels, axis=0, type=2), axis=1, type=2)[:8, :8]
    bits = (coeffs > np.median(coeffs)).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def thumbnail_png(image: Image.Image, size: int = 64) -> bytes:
    """A small PNG of ``image`` for the report."""
    thumb = image.convert("RGB") if image.mode not in ("L", "RGB") else image.copy()
    thumb.thumbnail((size, size))
    buf = io.BytesIO()
    thumb.save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class _Info:
    rel: str
    sha: str
    hash: int
    width: int
    height: int
    span: int
    thumb: bytes


def _read(path: Path, rel: str) -> _Info | str:
    """The facts about one image, or the reason it cannot be read."""
    data = path.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > MAX_PIXELS:
                    return f"{img.width}x{img.height} pixels exceeds {MAX_PIXELS:,}"
                img.load()
                grey = np.asarray(img.convert("L"))
                return _Info(rel, hashlib.sha256(data).hexdigest(), phash(img), img.width, img.height,
                             int(grey.max()) - int(grey.min()), thumbnail_png(img))
    except Exception as exc:  # noqa: BLE001 -- PIL raises many types for corrupt / truncated / unknown files
        return f"{type(exc).__name__}: {exc}"


def _outliers(infos: list[_Info], rules: ImageRules) -> dict[str, tuple[str, str]]:
    """rel -> (reason, sentence) for size and aspect outliers against the folder's medians."""
    if not infos:
        return {}
    areas = np.array([i.width * i.height for i in infos], dtype=np.float64)
    aspects = np.array([i.width / i.height for i in infos], dtype=np.float64)
    med_area, med_aspect = float(np.median(areas)), float(np.median(aspects))
    out: dict[str, tuple[str, str]] = {}
    for info, area, aspect in zip(infos, areas, aspects):
        size = f"{info.width}x{info.height}"
        if min(info.width, info.height) < rules.min_side:
            out[info.rel] = ("too_small", f"{size} has a side under {rules.min_side} px")
        elif max(area / med_area, med_area / area) > rules.area_ratio:
            out[info.rel] = ("size_outlier", (f"{size}: {area / med_area:.2f}x the median pixel count "
                                             f"(limit {rules.area_ratio:g}x)"))
        elif max(aspect / med_aspect, med_aspect / aspect) > rules.aspect_ratio:
            out[info.rel] = ("aspect_outlier", (f"{size}: aspect {aspect:.2f} vs median {med_aspect:.2f} "
                                               f"(limit {rules.aspect_ratio:g}x)"))
    return out


def clean_images(files: list[tuple[Path, str]], rules: ImageRules | None = None) -> tuple[KindReport, list[str]]:
    """Check ``(path, rel)`` image files; returns the report and the kept ``rel`` names in order.

    Checks run in this order and an image is dropped for the first that applies: unreadable,
    blank, exact duplicate (same bytes) of an earlier kept image, near duplicate (pHash) of one,
    too small / size outlier / aspect outlier (medians over the readable, non-blank images).
    """
    rules = rules or ImageRules()
    report = KindReport("images", scanned=len(files))
    readable: list[_Info] = []
    for path, rel in files:
        info = _read(path, rel)
        if isinstance(info, str):
            report.drops.append(Drop(rel, "unreadable", info))
        elif info.span <= rules.blank_range:
            report.drops.append(Drop(rel, "blank", f"grey levels span {info.span} of 255", info.thumb))
        else:
            readable.append(info)
    kept: list[_Info] = []
    hashes = np.zeros(len(readable), dtype=np.uint64)  # kept images' hashes, vectorised distance
    by_sha: dict[str, str] = {}
    for info in readable:
        if info.sha in by_sha:
            report.drops.append(Drop(info.rel, "exact_duplicate", f"same bytes as {by_sha[info.sha]}", info.thumb))
            continue
        dist = np.bitwise_count(hashes[:len(kept)] ^ np.uint64(info.hash))
        if len(kept) and int(dist.min()) <= rules.near_bits:
            near = kept[int(dist.argmin())]
            report.drops.append(Drop(info.rel, "near_duplicate", f"pHash {int(dist.min())} bits "
                                     f"from {near.rel}", info.thumb))
            continue
        by_sha[info.sha] = info.rel
        hashes[len(kept)] = info.hash
        kept.append(info)
    outliers = _outliers(kept, rules)
    for info in kept:
        if info.rel in outliers:
            reason, detail = outliers[info.rel]
            report.drops.append(Drop(info.rel, reason, detail, info.thumb))
    names = [i.rel for i in kept if i.rel not in outliers]
    report.kept = len(names)
    return report, names
