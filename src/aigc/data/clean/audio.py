"""Audio folders: corrupt or empty files, silent clips, clipped clips and a wrong sample rate.

Silent: peak below ``silence_dbfs`` (default -60 dBFS). Clipped: more than ``clip_fraction`` of the
samples at or beyond ``clip_level`` of full scale (a run of flat-topped samples is what a clipping
converter leaves). Wrong rate: differs from ``sample_rate`` (default: the folder's most common rate).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aigc.data.clean.common import Drop, KindReport

__all__ = ["AudioRules", "clean_audio"]


@dataclass(kw_only=True)
class AudioRules:
    sample_rate: int | None = None
    silence_dbfs: float = -60.0
    clip_level: float = 0.999
    clip_fraction: float = 0.001


def _read(path: Path) -> tuple[np.ndarray, int] | str:
    import soundfile as sf

    try:
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 -- libsndfile raises RuntimeError / LibsndfileError / TypeError
        return f"{type(exc).__name__}: {exc}"
    if wave.size == 0:
        return "no samples"
    return wave, int(sr)


def clean_audio(files: list[tuple[Path, str]], rules: AudioRules | None = None) -> tuple[KindReport, list[str]]:
    """Check ``(path, rel)`` audio files; returns the report and the kept ``rel`` names."""
    rules = rules or AudioRules()
    report = KindReport("audio", scanned=len(files))
    readable: list[tuple[str, np.ndarray, int]] = []
    for path, rel in files:
        got = _read(path)
        if isinstance(got, str):
            report.drops.append(Drop(rel, "corrupt", got))
        else:
            readable.append((rel, *got))
    rate = rules.sample_rate
    if rate is None and readable:
        rate = Counter(sr for _, _, sr in readable).most_common(1)[0][0]
        report.notes.append(f"expected sample rate {rate} Hz (the most common one)")
    kept: list[str] = []
    for rel, wave, sr in readable:
        peak = float(np.abs(wave).max())
        peak_db = 20 * np.log10(max(peak, 1e-12))
        clipped = float(np.mean(np.abs(wave) >= rules.clip_level))
        if peak_db < rules.silence_dbfs:
            report.drops.append(Drop(rel, "silent", f"peak {peak_db:.1f} dBFS (limit {rules.silence_dbfs:g})"))
        elif clipped > rules.clip_fraction:
            report.drops.append(Drop(rel, "clipped", f"{100 * clipped:.2f} % of samples at full scale "
                                                     f"(limit {100 * rules.clip_fraction:g} %)"))
        elif sr != rate:
            report.drops.append(Drop(rel, "wrong_rate", f"{sr} Hz, expected {rate} Hz"))
        else:
            kept.append(rel)
    report.kept = len(kept)
    return report, kept
