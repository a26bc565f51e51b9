"""Video outputs that carry their recipe: GIF (comment extension) and MP4 (``comment`` tag) through
:mod:`aigc.core.artifacts`, WebM/MKV/MOV through :func:`aigc.data.video.write_ffmpeg` with the same
recipe JSON, a folder of PNG frames (an output path without a suffix; each frame carries the recipe
and its index); and the contact-sheet PNG (one row per clip: context | truth | prediction).
``aigc.core.artifacts.read_recipe`` reads the recipe of a GIF, MP4, WebM or frame back. Every
output is watermarked when the recipe asks for it (``"watermark": true``, the CLI's default):
videos frame by frame, a folder's frames each as an image.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from aigc.core.artifacts import apply_watermark, finish_recipe, save_gif, save_mp4, save_png
from aigc.core.errors import BadInputError
from aigc.data.video import write_ffmpeg

__all__ = ["frames_to_uint8", "save_video", "contact_sheet", "label_rows", "labelled_sheet", "save_contact_sheet",
           "VIDEO_OUTPUTS", "FRAME_NAME"]

VIDEO_OUTPUTS = (".gif", ".mp4", ".webm", ".mkv", ".mov")
FRAME_NAME = "frame_{:05d}.png"


def frames_to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(T, C, H, W) floats in [0, 1] -> (T, H, W, C) uint8, rounding to nearest."""
    if frames.ndim != 4:
        raise BadInputError(f"expected frames (T, C, H, W), got {tuple(frames.shape)}")
    arr = frames.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()
    return np.ascontiguousarray(arr.transpose(0, 2, 3, 1))


def save_video(path: str | Path, frames: torch.Tensor, recipe: Mapping[str, Any] | None = None, *,
               fps: float = 10.0, scale: int = 1) -> Path:
    """Write (T, C, H, W) frames in [0, 1] as GIF / MP4 / WebM / MKV / MOV by the suffix, or as a
    folder of PNG frames when ``path`` has no suffix, recipe embedded; ``scale`` enlarges by pixel
    repetition (small clips become visible)."""
    path = Path(path)
    suffix = path.suffix.lower()
    arr = frames_to_uint8(frames)
    if suffix == ".gif":
        return save_gif(path, arr, fps, recipe, scale=scale)
    if suffix == ".mp4":
        return save_mp4(path, arr, fps, recipe, scale=scale)
    if scale > 1:
        arr = arr.repeat(scale, axis=1).repeat(scale, axis=2)
    if suffix in VIDEO_OUTPUTS:
        arr, recipe = apply_watermark("video", arr, recipe)
        text = json.dumps(finish_recipe(recipe, path), sort_keys=True, ensure_ascii=True)
        return write_ffmpeg(path, arr, fps, metadata={"comment": text})
    if not suffix:
        return _save_frames(path, arr, recipe)
    raise BadInputError(f"{path}: write one of {', '.join(VIDEO_OUTPUTS)}, or a folder name (PNG frames)")


def _save_frames(folder: Path, arr: np.ndarray, recipe: Mapping[str, Any] | None) -> Path:
    """(T, H, W, C) uint8 -> ``folder/frame_00000.png`` ...; each PNG carries the recipe and its index
    (and, when the recipe asks, the image watermark, so one frame alone can be verified)."""
    if folder.exists() and not folder.is_dir():
        raise BadInputError(f"{folder} is a file; give a folder name (no suffix) for PNG frames")
    names = {FRAME_NAME.format(i) for i in range(len(arr))}
    stale = sorted(f.name for f in folder.glob("frame_*.png") if f.name not in names) if folder.is_dir() else []
    if stale:  # they would be read back as part of this clip
        raise BadInputError(f"{folder} holds other frames ({stale[0]}, ...); give a new or empty folder")
    for i, frame in enumerate(arr):
        save_png(folder / FRAME_NAME.format(i), frame, None if recipe is None else {**recipe, "frame": i})
    return folder


def contact_sheet(rows: Sequence[torch.Tensor], *, gap: int = 2) -> np.ndarray:
    """Tile rows of (T_i, C, H, W) frames into one (H', W', C) uint8 image, white gaps between
    frames and rows; shorter rows are left blank on the right."""
    if not rows:
        raise BadInputError("a contact sheet needs at least one row of frames")
    c, h, w = rows[0].shape[1:]
    width = max(r.shape[0] for r in rows)
    sheet = torch.ones(c, len(rows) * (h + gap) + gap, width * (w + gap) + gap)
    for i, row in enumerate(rows):
        for j, frame in enumerate(row):
            y, x = gap + i * (h + gap), gap + j * (w + gap)
            sheet[:, y:y + h, x:x + w] = frame.detach().float().cpu().clamp(0, 1)
    arr = sheet.mul(255).round().to(torch.uint8).numpy()
    return np.ascontiguousarray(arr.transpose(1, 2, 0))


def save_contact_sheet(path: str | Path, context: torch.Tensor, truth: torch.Tensor | None,
                       predictions: Mapping[str, torch.Tensor], recipe: Mapping[str, Any] | None = None,
                       *, scale_to: int = 800) -> Path:
    """PNG of one sequence: row 1 the context then the truth, then one row per model with the
    prediction under the truth (blank under the context). Row names go into the PNG metadata."""
    blank = torch.ones_like(context)
    rows = [torch.cat([context, truth]) if truth is not None else context]
    rows += [torch.cat([blank, pred]) for pred in predictions.values()]
    names = ["context | truth" if truth is not None else "context", *predictions]
    meta = {**dict(recipe or {}), "rows": names}
    return save_png(path, labelled_sheet(rows, names, scale_to=scale_to), meta)


def labelled_sheet(rows: Sequence[torch.Tensor], names: Sequence[str], *, scale_to: int | None = 800,
                   gap: int = 2) -> np.ndarray:
    """:func:`contact_sheet` of ``rows`` enlarged (nearest neighbour, whole factors) towards
    ``scale_to`` pixels, with each row's name written on its left."""
    sheet = contact_sheet(rows, gap=gap)
    scale = max(1, -(-scale_to // max(sheet.shape[:2]))) if scale_to else 1
    sheet = sheet.repeat(scale, axis=0).repeat(scale, axis=1)
    return label_rows(sheet, names, pitch=(rows[0].shape[-2] + gap) * scale, top=gap * scale)


def label_rows(sheet: np.ndarray, names: Sequence[str], *, pitch: int, top: int = 0) -> np.ndarray:
    """``sheet`` (H, W, C) uint8 with a white column on the left holding each row's name (black
    text, vertically centred on rows ``pitch`` pixels apart starting at ``top``)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=max(9, min(16, pitch // 3)))
    width = max(int(font.getlength(n)) for n in names) + 12 if names else 0
    mode = "L" if sheet.shape[2] == 1 else "RGB"
    canvas = Image.new(mode, (sheet.shape[1] + width, sheet.shape[0]), 255 if mode == "L" else (255,) * 3)
    canvas.paste(Image.fromarray(sheet[..., 0] if mode == "L" else sheet), (width, 0))
    draw = ImageDraw.Draw(canvas)
    for i, name in enumerate(names):
        draw.text((6, top + i * pitch + pitch // 2), name, fill=0 if mode == "L" else (0, 0, 0), font=font,
                  anchor="lm")
    out = np.asarray(canvas)
    return out[..., None] if out.ndim == 2 else out
