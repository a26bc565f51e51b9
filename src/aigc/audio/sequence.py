"""Digit sequences: split a recording on silence (for ``aigc listen``), trim clips, and join clips
with pauses and cross-fades (for ``aigc speak``). Plain numpy on (T,) float waves.
"""

from __future__ import annotations

import numpy as np

from aigc.core.errors import BadInputError

__all__ = ["frame_db", "join_clips", "nonsilent_intervals", "parse_digits", "split_on_silence", "trim_silence"]


def frame_db(wave: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """RMS of centred frames (zero padded, as librosa.feature.rms with center=True) in dB re the
    loudest frame: (1 + T // hop,)."""
    padded = np.pad(np.asarray(wave, dtype=np.float64), frame // 2)
    n = 1 + (len(padded) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    rms = np.sqrt(np.mean(padded[idx] ** 2, axis=1))
    ref = max(rms.max(), 1e-10)
    return 20 * np.log10(np.maximum(rms, 1e-10) / ref)


def nonsilent_intervals(wave: np.ndarray, *, top_db: float = 30.0, frame: int = 512, hop: int = 128) -> np.ndarray:
    """(K, 2) [start, end) sample intervals louder than ``-top_db`` dB re the loudest frame
    (librosa.effects.split's rule). A recording whose peak is below 1e-4 (-80 dBFS) is all silence."""
    if len(wave) == 0 or float(np.abs(wave).max()) < 1e-4:
        return np.zeros((0, 2), dtype=np.int64)
    loud = frame_db(wave, frame, hop) > -top_db
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    starts, ends = edges[0::2], edges[1::2]
    bounds = np.stack([starts * hop, np.minimum(ends * hop, len(wave))], axis=1) if len(starts) else np.zeros((0, 2), int)
    return bounds.astype(np.int64)


def split_on_silence(wave: np.ndarray, sr: int, *, top_db: float = 30.0, min_gap_s: float = 0.12,
                     min_len_s: float = 0.08, pad_s: float = 0.03) -> list[tuple[int, int]]:
    """Spoken units of a recording: non-silent intervals whose gaps are shorter than ``min_gap_s``
    merged, those shorter than ``min_len_s`` dropped, each widened by ``pad_s``."""
    if len(wave) == 0:
        raise BadInputError("split_on_silence: empty recording")
    merged: list[list[int]] = []
    for start, end in nonsilent_intervals(wave, top_db=top_db):
        if merged and start - merged[-1][1] < min_gap_s * sr:
            merged[-1][1] = int(end)
        else:
            merged.append([int(start), int(end)])
    pad = int(pad_s * sr)
    return [(max(0, s - pad), min(len(wave), e + pad)) for s, e in merged if e - s >= min_len_s * sr]


def trim_silence(wave: np.ndarray, sr: int, *, top_db: float = 30.0, pad_s: float = 0.02) -> np.ndarray:
    """``wave`` without its leading and trailing silence (kept whole if it is all silence)."""
    spans = nonsilent_intervals(wave, top_db=top_db)
    if not len(spans):
        return wave
    pad = int(pad_s * sr)
    return wave[max(0, spans[0, 0] - pad):min(len(wave), spans[-1, 1] + pad)]


def centered_clips(waves: list[np.ndarray], sr: int, length: int) -> np.ndarray:
    """(N, length) float32: each wave trimmed of leading/trailing silence, then centred (or its
    middle kept). Training, evaluation and ``listen`` all cut clips this way."""
    from aigc.data.audio import center_clip

    return np.stack([center_clip(trim_silence(np.asarray(w, dtype=np.float32), sr), length) for w in waves])


def join_clips(clips: list[np.ndarray], sr: int, *, pauses_s: list[float] | float = 0.12,
               crossfade_s: float = 0.015) -> np.ndarray:
    """Overlap-add clips with raised-cosine fades of ``crossfade_s`` at every edge; clip k+1 starts
    ``pauses_s[k]`` after clip k ends, minus the fade (so with no pause the two cross-fade)."""
    if not clips:
        raise BadInputError("join_clips: nothing to join")
    pauses = [pauses_s] * (len(clips) - 1) if np.isscalar(pauses_s) else list(pauses_s)
    if len(pauses) != len(clips) - 1:
        raise BadInputError(f"join_clips: {len(pauses)} pauses for {len(clips)} clips")
    fade = int(crossfade_s * sr)
    faded = []
    for clip in clips:
        c = np.asarray(clip, dtype=np.float32).copy()
        n = min(fade, len(c) // 2)
        if n:
            ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
            c[:n] *= ramp
            c[-n:] *= ramp[::-1]
        faded.append(c)
    starts = [0]
    for c, pause in zip(faded[:-1], pauses):
        starts.append(max(0, starts[-1] + len(c) + int(pause * sr) - min(fade, len(c) // 2)))
    out = np.zeros(max(s + len(c) for s, c in zip(starts, faded)), dtype=np.float32)
    for s, c in zip(starts, faded):
        out[s:s + len(c)] += c
    return out


def parse_digits(text: str) -> list[list[int]]:
    """``"555-1234"`` or ``"4 1 5 2"`` -> groups of digits. Spaces separate digits; dashes, dots and
    commas start a new group (a longer pause). Anything else is an error naming it."""
    groups: list[list[int]] = [[]]
    for ch in text:
        if ch.isdigit() and ch.isascii():
            groups[-1].append(int(ch))
        elif ch in "-.,/":
            if groups[-1]:
                groups.append([])
        elif ch not in " ()+\t":
            raise BadInputError(f"cannot speak {ch!r} in {text!r}: the model knows the digits 0-9 "
                                f"(group them with spaces or dashes)")
    groups = [g for g in groups if g]
    if not groups:
        raise BadInputError(f"no digits to speak in {text!r}")
    return groups
