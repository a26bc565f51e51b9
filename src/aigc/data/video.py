"""Video files and folders of frames in (and WebM / MKV / MOV out), with clear errors.

GIF is read with Pillow, with its comment extension. MP4 / WebM / MKV / MOV / AVI go through the
ffmpeg binary that the ``imageio-ffmpeg`` wheel carries; container tags (``comment``) are read with
ffmpeg's ``ffmetadata`` muxer. GIF and MP4 are written by ``aigc.core.artifacts``; the other
containers by :func:`write_ffmpeg` (VP9 in WebM, H.264 otherwise). A folder is read as its image
files in name order. A corrupt file, zero frames or frames of mixed sizes raise
:class:`BadInputError` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aigc.core.atomic import atomic_path
from aigc.core.errors import BadInputError
from aigc.core.artifacts import read_ffmpeg_metadata

__all__ = ["Video", "read_video", "write_ffmpeg", "read_ffmpeg_metadata",
           "GIF_SUFFIXES", "FFMPEG_SUFFIXES", "FRAME_SUFFIXES", "MAX_FRAMES"]

GIF_SUFFIXES = (".gif",)
FFMPEG_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MAX_FRAMES = 100_000
_CODECS = {".mp4": ("libx264", "mp4"), ".mov": ("libx264", "mov"), ".mkv": ("libx264", "matroska"),
           ".webm": ("libvpx-vp9", "webm"), ".avi": ("mpeg4", "avi")}


@dataclass
class Video:
    """Frames (T, H, W, C) uint8 with C = 1 (grey) or 3 (RGB), frames per second, and the text
    metadata the file carried (GIF comment, container tags)."""

    frames: np.ndarray
    fps: float
    source: str
    metadata: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def _grey_if_possible(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) -> (T, H, W, 1) when every pixel has R == G == B."""
    if frames.shape[-1] == 3 and (frames[..., :1] == frames[..., 1:]).all():
        return np.ascontiguousarray(frames[..., :1])
    return frames


def _stack(frames: list[np.ndarray], names: list[str], source: Path) -> np.ndarray:
    if not frames:
        raise BadInputError(f"{source}: no frames; give a video with at least one frame")
    first = frames[0].shape
    for arr, name in zip(frames, names):
        if arr.shape != first:
            raise BadInputError(f"{name}: frame size {arr.shape[1]}x{arr.shape[0]} differs from the first "
                                f"frame's {first[1]}x{first[0]}; resize the frames to one size")
    return _grey_if_possible(np.stack(frames))


def _read_gif(path: Path, max_frames: int) -> Video:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            comment = img.info.get("comment", b"")
            durations, frames = [], []
            for frame in ImageSequence.Iterator(img):
                durations.append(frame.info.get("duration", 100) or 100)
                frames.append(np.asarray(frame.convert("RGB")))
                if len(frames) > max_frames:
                    raise BadInputError(f"{path}: more than {max_frames} frames; trim the clip")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        if isinstance(exc, BadInputError):
            raise
        raise BadInputError(f"{path}: not a readable GIF ({exc})") from exc
    arr = _stack(frames, [f"{path} frame {i}" for i in range(len(frames))], path)
    meta = {"comment": comment.decode("utf-8", "replace")} if comment else {}
    return Video(arr, 1000.0 / float(np.mean(durations)), str(path), meta)


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _read_ffmpeg(path: Path, max_frames: int) -> Video:
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
        w, h = meta["size"]
        frames = []
        for raw in reader:
            frames.append(np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3))
            if len(frames) > max_frames:
                reader.close()
                raise BadInputError(f"{path}: more than {max_frames} frames; trim the clip")
    except (RuntimeError, OSError, StopIteration, KeyError, ValueError) as exc:
        if isinstance(exc, BadInputError):
            raise
        first = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
        raise BadInputError(f"{path}: not a readable video ({first[0][:200]})") from exc
    arr = _stack(frames, [f"{path} frame {i}" for i in range(len(frames))], path)
    return Video(arr, float(meta.get("fps") or 10.0), str(path), read_ffmpeg_metadata(path))


def _read_folder(path: Path, max_frames: int) -> Video:
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    if len(files) > max_frames:
        raise BadInputError(f"{path}: {len(files)} frames, more than {max_frames}; trim the folder")
    frames = []
    for f in files:
        try:
            with Image.open(f) as img:
                frames.append(np.asarray(img.convert("RGB")))
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
            raise BadInputError(f"{f}: not a readable image ({exc}); remove or replace it") from exc
    if not frames:
        raise BadInputError(f"{path}: no frames (no {', '.join(FRAME_SUFFIXES)} files) in the folder")
    return Video(_stack(frames, [str(f) for f in files], path), 10.0, str(path))


def read_video(path: str | Path, *, max_frames: int = MAX_FRAMES) -> Video:
    """Read a GIF, an MP4/WebM/MKV/MOV/AVI file or a folder of frame images."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, max_frames)
    if not path.is_file():
        raise BadInputError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in GIF_SUFFIXES:
        return _read_gif(path, max_frames)
    if suffix in FFMPEG_SUFFIXES:
        return _read_ffmpeg(path, max_frames)
    raise BadInputError(f"{path}: unknown video type {suffix!r}; use "
                        f"{', '.join(GIF_SUFFIXES + FFMPEG_SUFFIXES)} or a folder of frames")


def _check_frames(frames: np.ndarray) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3) or arr.shape[0] < 1:
        raise BadInputError(f"expected frames (T, H, W) or (T, H, W, 1|3), got {arr.shape}")
    if arr.dtype != np.uint8:
        raise BadInputError(f"expected uint8 frames, got {arr.dtype}")
    return arr


def write_ffmpeg(path: str | Path, frames: np.ndarray, fps: float = 10.0, *,
                 metadata: dict[str, str] | None = None, quality: int = 8) -> Path:
    """Write frames as MP4 (H.264, yuv420p) / WebM (VP9) / MKV / MOV / AVI atomically through
    ffmpeg; ``metadata`` becomes container tags (``comment`` holds the recipe). Bit-exact flags keep
    the same frames and tags giving the same bytes."""
    import imageio_ffmpeg

    arr = _check_frames(frames)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _CODECS:
        raise BadInputError(f"{path}: cannot write {suffix!r} video; use one of {sorted(_CODECS)}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    codec, fmt = _CODECS[suffix]
    h, w = arr.shape[1:3]
    params = ["-f", fmt, "-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
              "-map_metadata", "-1"]
    for key, value in (metadata or {}).items():
        params += ["-metadata", f"{key}={value}"]
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=fps, codec=codec, quality=quality,
                                             macro_block_size=1, output_params=params,
                                             ffmpeg_log_level="error")
        writer.send(None)
        for frame in arr:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
    return path
