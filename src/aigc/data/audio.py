"""Audio files and datasets: WAV/FLAC/OGG through soundfile, polyphase resampling (scipy), the Free
Spoken Digit Dataset with its official split, and any folder of audio with sub-folder labels.

Waveforms are float32 numpy arrays in [-1, 1], mono, shape (T,); the sample rate is always passed
explicitly (as librosa does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aigc.core.atomic import atomic_path
from aigc.core.errors import BadInputError
from aigc.core.paths import data_dir

__all__ = [
    "AUDIO_SUFFIXES",
    "FSDD_SPEAKERS",
    "AudioSet",
    "center_clip",
    "fix_length",
    "load_audio_folder",
    "load_audio_source",
    "load_fsdd",
    "read_audio",
    "resample",
    "write_audio",
]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
FSDD_SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
FSDD_TEST_INDICES = range(5)  # official split: recordings 0-4 of each digit/speaker are the test set
SPLITS = ("train", "test", "all")


def read_audio(path: str | Path, sr: int | None = None, *, resample_ok: bool = True) -> tuple[np.ndarray, int]:
    """Decode one audio file to a mono float32 (T,) array and its sample rate.

    With ``sr`` the audio is resampled to ``sr`` (``resample_ok=False`` makes another rate an
    error instead). Corrupt, empty and zero-length files raise :class:`BadInputError` naming the file.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: audio file not found")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: empty file (0 bytes)")
    try:
        wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable audio file ({exc})") from exc
    if wave.shape[0] == 0:
        raise BadInputError(f"{path}: zero-length audio (no samples)")
    wave = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]
    if not np.isfinite(wave).all():
        raise BadInputError(f"{path}: audio contains NaN or inf samples")
    if sr is not None and rate != sr:
        if not resample_ok:
            raise BadInputError(f"{path}: sample rate {rate} Hz, expected {sr} Hz (resample it or allow resampling)")
        wave, rate = resample(wave, rate, sr), sr
    return np.ascontiguousarray(wave, dtype=np.float32), int(rate)


def write_audio(path: str | Path, wave: np.ndarray | torch.Tensor, sr: int, *, subtype: str = "PCM_16") -> Path:
    """Write a (T,) or (T, C) waveform in [-1, 1] atomically; the format follows the suffix."""
    import soundfile as sf

    path = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}.get(path.suffix.lower())
    if fmt is None:
        raise BadInputError(f"{path}: unsupported audio suffix; use one of {', '.join(AUDIO_SUFFIXES)}")
    arr = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
    arr = np.clip(arr.astype(np.float32), -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), arr, int(sr), format=fmt, subtype=None if fmt == "OGG" else subtype)
    return path


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly, Kaiser window) by the reduced ratio."""
    from scipy.signal import resample_poly

    if orig_sr <= 0 or target_sr <= 0:
        raise BadInputError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return np.asarray(wave, dtype=np.float32)
    g = math.gcd(int(orig_sr), int(target_sr))
    out = resample_poly(np.asarray(wave, dtype=np.float64), target_sr // g, orig_sr // g, axis=-1)
    return out.astype(np.float32)


def fix_length(wave: np.ndarray, length: int, *, offset: int = 0) -> np.ndarray:
    """Crop ``wave`` from ``offset`` or zero-pad it at the end to exactly ``length`` samples."""
    out = np.zeros(length, dtype=np.float32)
    piece = wave[offset:offset + length]
    out[:len(piece)] = piece
    return out


def center_clip(wave: np.ndarray, length: int) -> np.ndarray:
    """The middle ``length`` samples of a long wave, or a short wave centred in zeros."""
    n = len(wave)
    if n >= length:
        start = (n - length) // 2
        return np.ascontiguousarray(wave[start:start + length], dtype=np.float32)
    out = np.zeros(length, dtype=np.float32)
    start = (length - n) // 2
    out[start:start + n] = wave
    return out


@dataclass
class AudioSet:
    """Variable-length mono waves at one sample rate, with labels (and speakers for FSDD)."""

    waves: list[np.ndarray]
    sr: int
    labels: torch.Tensor | None
    class_names: list[str] | None
    source: str
    speakers: torch.Tensor | None = None
    speaker_names: list[str] | None = None
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.waves)

    def batch(self, length: int) -> torch.Tensor:
        """All waves centred in (N, length) float32 (longer ones keep their middle)."""
        return torch.from_numpy(np.stack([center_clip(w, length) for w in self.waves]))

    def spec(self) -> dict:
        return {"source": self.source, "n": len(self), "sample_rate": self.sr,
                "class_names": self.class_names, "speaker_names": self.speaker_names,
                "skipped": len(self.skipped)}


def _read_many(files: list[Path], sr: int, skip_bad: bool, resample_ok: bool
               ) -> tuple[list[np.ndarray], list[Path], list[str]]:
    waves, kept, skipped = [], [], []
    for path in files:
        try:
            waves.append(read_audio(path, sr, resample_ok=resample_ok)[0])
            kept.append(path)
        except BadInputError as exc:
            if not skip_bad:
                raise BadInputError(f"{exc} (pass --skip-bad to skip such files)") from exc
            skipped.append(str(path))
    return waves, kept, skipped


def _parse_fsdd(path: Path) -> tuple[int, str, int]:
    parts = path.stem.split("_")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
        raise BadInputError(f"{path}: not an FSDD file name (expected DIGIT_SPEAKER_INDEX.wav)")
    return int(parts[0]), parts[1], int(parts[2])


def load_fsdd(split: str = "train", *, sr: int = 8000, root: str | Path | None = None,
              skip_bad: bool = False, speakers: list[str] | None = None) -> AudioSet:
    """The Free Spoken Digit Dataset (Jackson et al.): ``recordings/{digit}_{speaker}_{index}.wav``.

    Official split: index 0-4 is ``test`` (300 files), 5-49 ``train`` (2,700). Labels are the
    digit; ``speakers`` indexes :data:`FSDD_SPEAKERS` (unknown speakers are appended in sorted order).
    """
    if split not in SPLITS:
        raise BadInputError(f"FSDD split must be one of {SPLITS}, got {split!r}")
    folder = Path(root) if root is not None else data_dir("fsdd") / "fsdd" / "recordings"
    if not folder.is_dir():
        raise BadInputError(f"FSDD not found at {folder}; set AIGC_DATA_DIR to a folder holding "
                            f"fsdd/recordings/*.wav")
    files = sorted(folder.glob("*.wav"))
    parsed = [(p, *_parse_fsdd(p)) for p in files]
    keep = [t for t in parsed if split == "all" or (t[3] in FSDD_TEST_INDICES) == (split == "test")]
    if speakers is not None:
        keep = [t for t in keep if t[2] in speakers]
    if not keep:
        raise BadInputError(f"no FSDD recordings for split {split!r} in {folder}")
    names = list(FSDD_SPEAKERS) + sorted({t[2] for t in parsed} - set(FSDD_SPEAKERS))
    waves, kept, skipped = _read_many([t[0] for t in keep], sr, skip_bad, True)
    info = {t[0]: t for t in keep}
    return AudioSet(waves, sr, torch.tensor([info[p][1] for p in kept], dtype=torch.long),
                    [str(d) for d in range(10)], f"fsdd:{split}",
                    torch.tensor([names.index(info[p][2]) for p in kept], dtype=torch.long), names,
                    [p.name for p in kept], skipped)


def load_audio_folder(root: str | Path, *, sr: int, skip_bad: bool = False,
                      resample_ok: bool = True) -> AudioSet:
    """Every audio file under ``root``; when each sits in a sub-folder, the sub-folder is its label."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"audio folder {str(root)!r} does not exist or is not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise BadInputError(f"{root}: no audio files ({', '.join(AUDIO_SUFFIXES)})")
    waves, kept, skipped = _read_many(files, sr, skip_bad, resample_ok)
    if not waves:
        raise BadInputError(f"no readable audio in {root} ({len(skipped)} skipped)")
    rel = [p.relative_to(root) for p in kept]
    labels, names = None, None
    if all(len(r.parts) >= 2 for r in rel):
        names = sorted({r.parts[0] for r in rel})
        labels = torch.tensor([names.index(r.parts[0]) for r in rel], dtype=torch.long)
    return AudioSet(waves, sr, labels, names, f"folder:{root}", files=[str(r) for r in rel], skipped=skipped)


def load_audio_source(spec: str, *, split: str = "train", sr: int = 8000, skip_bad: bool = False) -> AudioSet:
    """``fsdd`` (official split) or ``folder:PATH`` (all files; sub-folders are labels)."""
    if spec == "fsdd":
        return load_fsdd(split, sr=sr, skip_bad=skip_bad)
    if spec.startswith("folder:"):
        return load_audio_folder(spec[len("folder:"):], sr=sr, skip_bad=skip_bad)
    raise BadInputError(f"unknown audio source {spec!r}; use 'fsdd' or 'folder:PATH'")
