"""Pitch and tempo: a phase-vocoder time stretch (librosa's algorithm, streamed) and scipy's
polyphase resampler (streamed), and the pitch/tempo stream that runs one of each.

A pitch shift by ``s`` semitones is a stretch by ``r = 2**(s/12)`` read back ``r`` times faster;
a tempo change by ``f`` is a stretch by ``1/f``. Both are the same pair of operations, so
consecutive ``--pitch`` and ``--speed`` effects fuse into one :class:`PitchTempoStream`: one
stretch by ``r/f`` and one resampling by ``r`` (ideal pitch shifts and tempo changes commute and
compose, so this is the transformation the effects describe, with one phase vocoder's work and
artefacts instead of two)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy import signal

from aigc.audio.effects_stft import _fit, _Framer, _OverlapAdd, auto_n_fft
from aigc.audio.stream import Stream
from aigc.core.errors import BadInputError

__all__ = ["PitchShiftStream", "PitchTempoStream", "TimeStretchStream"]


class TimeStretchStream(Stream):
    """``librosa.effects.time_stretch`` streamed: a phase vocoder whose analysis frames arrive as
    the stream does; the accumulated phase is a running sum carried between blocks. Output length
    ``round(n / rate)``. ``limits`` bounds the rate a user may ask for (None: any)."""

    def __init__(self, channels: int, sr: int, rate: float, n_fft: int | None = None,
                 dtype: type = np.float64, limits: tuple[float, float] | None = (0.25, 4.0)) -> None:
        if limits and not limits[0] <= rate <= limits[1]:
            raise BadInputError(f"tempo rate {rate:g} must be {limits[0]:g}..{limits[1]:g}")
        n_fft = n_fft or auto_n_fft(sr)
        self.channels, self.rate, self.hop = channels, rate, n_fft // 4
        self.framer = _Framer(channels, n_fft, self.hop, dtype)
        self.ola = _OverlapAdd(channels, n_fft, self.hop, dtype)
        # magnitude and unit phasor of the analysis frames not yet used, each computed once
        self.mag = np.zeros((channels, 0, n_fft // 2 + 1), dtype)
        self.unit = np.zeros((channels, 0, n_fft // 2 + 1), self.framer.complex)
        self.first = self.t = self.n_in = self.n_out = 0
        self.phasor: np.ndarray | None = None

    def _steps(self, avail: int, final: bool) -> np.ndarray:
        ts = np.arange(self.t, math.ceil(avail / self.rate) + 2)
        steps = ts * self.rate
        return ts[steps < avail] if final else ts[np.floor(steps) <= avail - 2]

    def _synth(self, final: bool) -> np.ndarray:
        """librosa accumulates ``phase += advance + wrap(angle(c1) - angle(c0) - advance)``; as a
        phasor that is a running product of ``u1 * conj(u0)`` (u = X / |X|, and the wrap drops
        out), which needs no angle, no exp and keeps librosa's output to ~1e-12."""
        avail = self.first + self.mag.shape[1]
        ts = self._steps(avail, final)
        if len(ts) == 0:
            return self.unit[:, :0]
        mag, unit = self.mag, self.unit
        if final:  # two zero frames past the end, as librosa pads (angle 0: phasor 1)
            mag = np.concatenate([mag, np.zeros_like(mag[:, :2])], axis=1)
            unit = np.concatenate([unit, np.ones_like(unit[:, :2])], axis=1)
        if self.phasor is None:
            self.phasor = unit[:, 0].copy()
        steps = ts * self.rate
        i0 = np.floor(steps).astype(np.intp) - self.first
        alpha = (steps - np.floor(steps)).astype(mag.dtype)[None, :, None]
        m0 = np.take(mag, i0, axis=1)
        out_mag = m0 + alpha * (np.take(mag, i0 + 1, axis=1) - m0)
        turn = np.take(unit, i0 + 1, axis=1) * np.conj(np.take(unit, i0, axis=1))
        # phasor of output frame k: the carried phasor times the product of turns before k (a
        # loop over frames on contiguous rows is several times faster than np.cumprod on axis 1)
        phasors = np.empty_like(turn)
        phasors[:, 0] = self.phasor
        for k in range(1, turn.shape[1]):
            np.multiply(phasors[:, k - 1], turn[:, k - 1], out=phasors[:, k])
        self.phasor = phasors[:, -1] * turn[:, -1]
        self.phasor /= np.abs(self.phasor)  # no drift of the modulus over hours
        self.t = int(ts[-1]) + 1
        drop = max(math.floor(self.t * self.rate) - self.first, 0)
        self.mag, self.unit, self.first = self.mag[:, drop:], self.unit[:, drop:], self.first + drop
        phasors *= out_mag
        return phasors

    def _add(self, spectra: np.ndarray) -> None:
        mag = np.abs(spectra)
        silent = mag == 0
        unit = spectra * (1 / np.where(silent, 1, mag))
        if silent.any():
            unit[silent] = 1.0
        self.mag = np.concatenate([self.mag, mag], axis=1)
        self.unit = np.concatenate([self.unit, unit], axis=1)

    def process(self, block: np.ndarray) -> np.ndarray:
        self.n_in += len(block)
        self._add(self.framer.push(block))
        y = self.ola.push(self._synth(final=False))
        self.n_out += len(y)
        return y

    def flush(self) -> np.ndarray:
        self._add(self.framer.finish())
        y = np.concatenate([self.ola.push(self._synth(final=True)), self.ola.finish()], axis=0)
        return _fit(y, self.n_out, round(self.n_in / self.rate))


class _Resampler(Stream):
    """Read a stream at ``p / q`` input samples per output sample: scipy's polyphase
    ``resample_poly`` (Kaiser-windowed sinc, cut-off at the lower Nyquist rate) on overlapping
    segments. Segments start on multiples of ``p`` input samples, where an output sample falls
    exactly, and overlap by more than the filter's half length, so the result does not depend on
    where blocks end."""

    def __init__(self, channels: int, p: int, q: int, dtype: type = np.float64) -> None:
        self.channels, self.p, self.q = channels, p, q
        half = 10 * max(p, q)  # resample_poly's filter
        self.h = signal.firwin(2 * half + 1, 1.0 / max(p, q), window=("kaiser", 5.0)).astype(dtype)
        self.c = -(-(half // q + 2) // p)  # overlap in groups of p input samples
        self.margin = self.c * p
        self.buf, self.base, self.j = np.zeros((self.margin, channels), dtype), -self.margin, 0

    def _run(self, groups: int) -> np.ndarray:
        if groups <= 0:
            return self.buf[:0]
        a = self.j // self.q * self.p - self.margin  # self.j is a multiple of q
        b = a + groups * self.p + 2 * self.margin
        y = signal.resample_poly(self.buf[a - self.base: b - self.base], self.q, self.p, axis=0,
                                 window=self.h)
        out = y[self.c * self.q: (self.c + groups) * self.q]
        self.j += groups * self.q
        drop = self.j // self.q * self.p - self.margin - self.base
        self.buf, self.base = self.buf[drop:], self.base + drop
        return out

    def process(self, block: np.ndarray) -> np.ndarray:
        self.buf = np.concatenate([self.buf, block], axis=0)
        end = self.base + len(self.buf)
        return self._run((end - self.margin - self.j // self.q * self.p) // self.p)

    def finish(self, total: int) -> np.ndarray:
        """Outputs up to ``total`` in all, reading zeros past the end of the input."""
        groups = max(-(-(total - self.j) // self.q), 0)
        need = (self.j // self.q + groups) * self.p + self.margin - (self.base + len(self.buf))
        pad = np.zeros((max(need, 0), self.channels), self.buf.dtype)
        self.buf = np.concatenate([self.buf, pad], axis=0)
        return self._run(groups)[: max(total - self.j + groups * self.q, 0)]


def _check(semitones: float, factor: float) -> None:
    if abs(semitones) > 24:
        raise BadInputError(f"pitch shift {semitones:g} semitones must be within +-24")
    if not 0.25 <= factor <= 4.0:
        raise BadInputError(f"tempo rate {factor:g} must be 0.25..4")


class PitchTempoStream(Stream):
    """Pitch up by ``semitones`` and play ``factor`` times faster: stretch by ``r / factor``
    (``r = 2**(s/12)``) then read ``r`` times faster (librosa's ``pitch_shift`` recipe with a
    streaming resampler). Output length ``round(n / factor)``; without a pitch change it is the
    plain phase vocoder."""

    def __init__(self, channels: int, sr: int, semitones: float = 0.0, factor: float = 1.0,
                 n_fft: int | None = None, dtype: type = np.float64, check: bool = True) -> None:
        if check:
            _check(semitones, factor)
        # a ratio p/q with q <= 100 is within 0.1 cent of 2**(s/12) and keeps the polyphase
        # filter short; stretch and resampler use the same ratio, so the duration is exact
        ratio = Fraction(2.0 ** (semitones / 12.0)).limit_denominator(100)
        self.channels, self.sr, self.n_in, self.dtype = channels, sr, 0, dtype
        self.semitones, self.factor, self.n_fft = semitones, factor, n_fft
        rate = factor * ratio.denominator / ratio.numerator
        self.stretch = TimeStretchStream(channels, sr, rate, n_fft, dtype, limits=None)
        self.read = None if ratio == 1 else _Resampler(channels, ratio.numerator, ratio.denominator, dtype)

    def fuse(self, other: Stream) -> Stream | None:
        """One stream for this followed by ``other`` when that is a pitch/tempo change too (made
        before any block went through; each part was checked against the user limits)."""
        if not isinstance(other, PitchTempoStream) or self.n_in or other.n_in or self.n_fft != other.n_fft:
            return None
        rate = self.factor * other.factor / 2.0 ** ((self.semitones + other.semitones) / 12.0)
        if not 1 / 16 <= rate <= 16:  # one stretch that far would hold too many frames per block
            return None
        return PitchTempoStream(self.channels, self.sr, self.semitones + other.semitones,
                                self.factor * other.factor, self.n_fft, self.dtype, check=False)

    def process(self, block: np.ndarray) -> np.ndarray:
        self.n_in += len(block)
        y = self.stretch.process(block)
        return y if self.read is None else self.read.process(y)

    def flush(self) -> np.ndarray:
        y = self.stretch.flush()
        if self.read is None:
            return y
        y = self.read.process(y)
        return np.concatenate([y, self.read.finish(round(self.n_in / self.factor))], axis=0)


class PitchShiftStream(PitchTempoStream):
    """Pitch by ``semitones``, duration kept: stretch by ``r = 2**(s/12)`` then read ``r`` times
    faster."""

    def __init__(self, channels: int, sr: int, semitones: float, n_fft: int | None = None,
                 dtype: type = np.float64) -> None:
        super().__init__(channels, sr, semitones, 1.0, n_fft, dtype)
