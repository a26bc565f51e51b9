"""Video watermark: the image watermark on every frame, decoded from the votes of all frames.

Every frame carries the same payload (:mod:`.image`), so a detector sums the carriers' soft votes
over frames before deciding: a lossy codec (H.264 in MP4) that blurs single frames still leaves
the sum clear. Frames under 32 px are left unmarked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aigc.tools.provenance.image import (
    GRID,
    MIN_SIZE,
    _carriers,
    _layout,
    _luma,
    _resize,
    embed_image,
)
from aigc.tools.provenance.payload import (
    DEFAULT_KEY,
    Detection,
    decode_soft,
    payload_bits,
    qim_soft,
)

__all__ = ["STEP", "detect_video", "embed", "embed_video", "read_frames"]

# Twice the image step: H.264 (CRF 23) leaves ~3 grey levels of error on small frames, as large as
# the image step's margin; this costs ~6 dB of PSNR (about 40 dB on 64 px frames).
STEP = 24.0


def embed_video(frames: np.ndarray, payload: np.ndarray, *, key: int = DEFAULT_KEY) -> np.ndarray:
    """(T, H, W[, C]) uint8 frames -> the same frames, each carrying ``payload``."""
    return np.stack([embed_image(f, payload, key=key, step=STEP) for f in np.asarray(frames)])


def embed(frames: np.ndarray, model_id: str) -> tuple[np.ndarray, dict[str, Any] | None]:
    """The writers' hook (``aigc.core.artifacts.WATERMARKERS['video']``)."""
    arr = np.asarray(frames)
    if arr.dtype != np.uint8 or min(arr.shape[1:3]) < MIN_SIZE:
        return frames, None  # too small to carry it: nothing recorded
    return embed_video(arr, payload_bits(model_id)), {"scheme": "aigc-dct-qim-v1/frame", "payload": model_id[:8],
                                                      "bits": 32, "flag": 1}


def detect_video(frames: np.ndarray, *, key: int = DEFAULT_KEY, expected: np.ndarray | None = None,
                 step: float = STEP) -> Detection:
    """Decode the payload from the summed votes of all frames (no crop search). ``step``: the
    image watermark's :data:`aigc.tools.provenance.image.STEP` for a folder of PNG frames."""
    bit_of, dither = _layout(key, step)
    arr = np.asarray(frames)
    votes = sum(qim_soft(_carriers(_resize(_luma(f), (GRID, GRID))), step, dither) for f in arr)
    # z of the mean vote is conservative: frames of one clip are correlated, so the mean of T
    # votes has at most (not exactly 1/T of) the variance 1/2 of one vote under no watermark
    det = decode_soft(votes / max(len(arr), 1), bit_of, "video", 1, expected)
    det.extra["frames"] = len(arr)
    return det


def read_frames(path: str) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of a GIF or video file (imageio-ffmpeg for MP4/WebM)."""
    from pathlib import Path

    if Path(path).suffix.lower() == ".gif":
        from PIL import Image, ImageSequence

        with Image.open(path) as im:
            return np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)])
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return np.stack([np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader])
