"""Uploads (a prompt image, a mask, a MIDI, a WAV) are decoded and size-checked before any model
sees them; only files that decode are kept, under a random id that requests name as ``upload:ID``."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from aigc.core.atomic import atomic_write_bytes
from aigc.core.errors import BadInputError
from aigc.serve.store import NotFound, safe_name

__all__ = ["KINDS", "UploadStore"]

KINDS = ("image", "midi", "wav")


class UploadStore:
    """Validated uploads in ``folder``."""

    def __init__(self, folder: Path, limits: Any) -> None:
        self.folder, self.limits = folder, limits
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, data: bytes, kind: str, filename: str = "") -> tuple[str, dict[str, Any]]:
        """Decode ``data`` as ``kind``; store it; return (id, what was found in it)."""
        if kind not in KINDS:
            raise BadInputError(f"upload kind {kind!r}: use one of {', '.join(KINDS)}")
        if not data:
            raise BadInputError(f"{filename or 'upload'}: the file is empty")
        check = {"image": self._image, "midi": self._midi, "wav": self._wav}[kind]
        suffix, info = check(data, filename or "upload")
        upload_id = uuid.uuid4().hex[:16]
        atomic_write_bytes(self.folder / f"{upload_id}{suffix}", data)
        return upload_id, info

    def path(self, upload_id: str) -> Path:
        safe_name(upload_id, "upload id")
        found = [p for p in self.folder.glob(f"{upload_id}.*") if p.stem == upload_id]
        if not found:
            raise NotFound(f"no upload {upload_id!r}; upload the file first (POST /api/uploads)")
        return found[0]

    def _image(self, data: bytes, name: str) -> tuple[str, dict[str, Any]]:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size  # read from the header, before any pixel is decoded
                if width * height > self.limits.pixels:
                    raise BadInputError(f"{name}: {width}x{height} pixels is above this studio's limit of "
                                        f"{self.limits.pixels} (aigc serve --max-pixels)")
                if img.format not in ("PNG", "JPEG", "BMP", "WEBP", "GIF"):
                    raise BadInputError(f"{name}: {img.format} images are not accepted; send PNG or JPEG")
                img.load()
                fmt, mode = img.format, img.mode
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            if isinstance(exc, BadInputError):
                raise
            raise BadInputError(f"{name}: not a readable image ({exc})") from None
        except Image.DecompressionBombError as exc:
            raise BadInputError(f"{name}: {exc}") from None
        return {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "WEBP": ".webp", "GIF": ".gif"}[fmt], \
            {"width": width, "height": height, "mode": mode, "format": fmt}

    def _midi(self, data: bytes, name: str) -> tuple[str, dict[str, Any]]:
        import pretty_midi

        try:
            midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 -- pretty_midi/mido raise many types for corrupt files
            raise BadInputError(f"{name}: not a readable MIDI file ({type(exc).__name__}: {exc})") from None
        notes = sum(len(inst.notes) for inst in midi.instruments)
        seconds = float(midi.get_end_time())
        if seconds > self.limits.audio_seconds:
            raise BadInputError(f"{name}: {seconds:.0f} s of music is above this studio's limit of "
                                f"{self.limits.audio_seconds:.0f} s")
        return ".mid", {"notes": notes, "seconds": seconds, "instruments": len(midi.instruments)}

    def _wav(self, data: bytes, name: str) -> tuple[str, dict[str, Any]]:
        import soundfile as sf

        try:
            info = sf.info(io.BytesIO(data))
            if info.frames / max(info.samplerate, 1) > self.limits.audio_seconds:
                raise BadInputError(f"{name}: {info.frames / info.samplerate:.0f} s of audio is above this "
                                    f"studio's limit of {self.limits.audio_seconds:.0f} s")
            sf.read(io.BytesIO(data), dtype="float32")
        except BadInputError:
            raise
        except Exception as exc:  # noqa: BLE001 -- libsndfile reports corrupt files in several ways
            raise BadInputError(f"{name}: not a readable WAV file ({exc})") from None
        if info.format != "WAV":
            raise BadInputError(f"{name}: a {info.format} file; send WAV")
        return ".wav", {"sample_rate": info.samplerate, "channels": info.channels,
                        "seconds": info.frames / info.samplerate}
