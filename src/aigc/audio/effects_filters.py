"""Gain and linear filters: Butterworth high/low-pass (scipy.signal.butter), RBJ cookbook biquads,
and the stream that runs a cascade of second-order sections. Gains and filters next to each other
fuse into one cascade (:func:`fuse_streams`)."""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from aigc.audio.stream import Stream, as_2d, run_stream
from aigc.core.errors import BadInputError

__all__ = ["GainStream", "SosStream", "butter_sos", "eq", "fuse_streams", "gain", "highpass", "lowpass",
           "rbj_biquad"]


class GainStream(Stream):
    def __init__(self, channels: int, db: float) -> None:
        self.channels, self.factor = channels, 10.0 ** (db / 20.0)

    def process(self, block: np.ndarray) -> np.ndarray:
        return block * self.factor

    def fuse(self, other: Stream) -> Stream | None:
        """A gain followed by a gain or a filter is one filter (linear, time-invariant)."""
        if isinstance(other, GainStream):
            return GainStream(self.channels, 20.0 * math.log10(self.factor * other.factor))
        return other.fuse(self) if isinstance(other, SosStream) else None


def gain(wave: np.ndarray, sr: int, db: float) -> np.ndarray:
    """Multiply by ``10 ** (db / 20)``."""
    return run_stream(GainStream(as_2d(wave).shape[1], db), wave)


def _check_freq(sr: int, freq: float, what: str) -> None:
    if not 0 < freq < sr / 2:
        raise BadInputError(f"{what} {freq:g} Hz must lie between 0 and half the sample rate "
                            f"({sr / 2:g} Hz)")


def butter_sos(sr: int, cutoff: float, kind: str, order: int = 4) -> np.ndarray:
    """Butterworth high/low-pass as second-order sections (scipy.signal.butter)."""
    _check_freq(sr, cutoff, f"{kind} cutoff")
    if not 1 <= order <= 16:
        raise BadInputError(f"{kind} order {order} must be 1..16")
    return signal.butter(order, cutoff, btype=kind, fs=sr, output="sos")


def rbj_biquad(kind: str, sr: int, freq: float, q: float, gain_db: float = 0.0) -> np.ndarray:
    """One RBJ Audio-EQ-Cookbook biquad (``peaking``, ``high_shelf``, ``high_pass``) as a (1, 6) sos."""
    _check_freq(sr, freq, f"{kind} frequency")
    if q <= 0:
        raise BadInputError(f"{kind} Q {q:g} must be positive")
    a_lin, w0 = 10.0 ** (gain_db / 40.0), 2.0 * math.pi * freq / sr
    cw, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    if kind == "peaking":
        b = [1 + alpha * a_lin, -2 * cw, 1 - alpha * a_lin]
        a = [1 + alpha / a_lin, -2 * cw, 1 - alpha / a_lin]
    elif kind == "high_shelf":
        sq = 2 * math.sqrt(a_lin) * alpha
        b = [a_lin * ((a_lin + 1) + (a_lin - 1) * cw + sq), -2 * a_lin * ((a_lin - 1) + (a_lin + 1) * cw),
             a_lin * ((a_lin + 1) + (a_lin - 1) * cw - sq)]
        a = [(a_lin + 1) - (a_lin - 1) * cw + sq, 2 * ((a_lin - 1) - (a_lin + 1) * cw),
             (a_lin + 1) - (a_lin - 1) * cw - sq]
    elif kind == "high_pass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    return np.array([[*(np.array(b) / a[0]), *(np.array(a) / a[0])]])


class SosStream(Stream):
    """scipy.signal.sosfilt with its state (``zi``) carried from block to block."""

    def __init__(self, channels: int, sos: np.ndarray, dtype: type = np.float64) -> None:
        self.channels, self.sos, self.dtype = channels, np.asarray(sos, dtype), dtype
        self.zi = np.zeros((sos.shape[0], 2, channels), dtype)
        self.started = False

    def process(self, block: np.ndarray) -> np.ndarray:
        if len(block) == 0:
            return block
        self.started = True
        out, self.zi = signal.sosfilt(self.sos, block, axis=0, zi=self.zi)
        return out

    def fuse(self, other: Stream) -> Stream | None:
        """Filters in a row (and gains next to them) are one cascade of second-order sections,
        run in one pass over the block: the same linear, time-invariant system."""
        if self.started or getattr(other, "started", False):
            return None
        if isinstance(other, GainStream):
            sos = np.array(self.sos, np.float64)
            sos[0, :3] *= other.factor
            return SosStream(self.channels, sos, self.dtype)
        if isinstance(other, SosStream):
            return SosStream(self.channels, np.concatenate([self.sos, other.sos]), self.dtype)
        return None


def fuse_streams(streams: list[Stream]) -> list[Stream]:
    """Merge neighbours that make one stream (a stream's ``fuse(next)`` says how, or None)."""
    out: list[Stream] = []
    for stream in streams:
        fuse = getattr(out[-1], "fuse", None) if out else None
        merged = fuse(stream) if fuse else None
        if merged is None:
            out.append(stream)
        else:
            out[-1] = merged
    return out


def highpass(wave: np.ndarray, sr: int, cutoff: float, order: int = 4) -> np.ndarray:
    """Butterworth high-pass of ``order`` (24 dB/octave at the default 4)."""
    return run_stream(SosStream(as_2d(wave).shape[1], butter_sos(sr, cutoff, "highpass", order)), wave)


def lowpass(wave: np.ndarray, sr: int, cutoff: float, order: int = 4) -> np.ndarray:
    """Butterworth low-pass of ``order``."""
    return run_stream(SosStream(as_2d(wave).shape[1], butter_sos(sr, cutoff, "lowpass", order)), wave)


def eq(wave: np.ndarray, sr: int, freq: float, gain_db: float, q: float = 1.0) -> np.ndarray:
    """RBJ peaking equaliser: ``gain_db`` at ``freq``, bandwidth set by ``q``, 0 dB far away."""
    return run_stream(SosStream(as_2d(wave).shape[1], rbj_biquad("peaking", sr, freq, q, gain_db)), wave)
