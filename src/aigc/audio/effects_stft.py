"""The short-time Fourier effects: phase-vocoder time stretch (librosa's algorithm, streamed),
polyphase resampling for pitch shifts, and two stationary denoisers (a spectral gate as noisereduce's,
and a soft Wiener-type gain). Each is a :class:`~aigc.audio.stream.Stream`."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy import fft as sfft
from scipy import ndimage, signal

from aigc.core.errors import BadInputError
from aigc.audio.stream import Stream

__all__ = ["auto_n_fft", "TimeStretchStream", "PitchShiftStream", "NoiseProfile", "SpectralGateStream", "NoiseFloor",
           "WienerStream"]


def auto_n_fft(sr: int) -> int:
    """About 46 ms: 2048 at 44.1 kHz (librosa's default), 512 at 8 kHz."""
    return int(2 ** round(math.log2(0.046 * sr)))


class _Framer:
    """Cut a stream into centred (``n_fft // 2`` zeros in front), Hann-windowed frames every
    ``hop`` samples, as ``librosa.stft(center=True, pad_mode="constant")``: spectra ``(ch, T, F)``."""

    def __init__(self, channels: int, n_fft: int, hop: int) -> None:
        self.n_fft, self.hop, self.win = n_fft, hop, signal.get_window("hann", n_fft)
        self.buf = np.zeros((channels, n_fft // 2))  # channels first: frames come out contiguous

    def push(self, block: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self.buf, block.T], axis=1)
        t = 0 if buf.shape[1] < self.n_fft else 1 + (buf.shape[1] - self.n_fft) // self.hop
        if t == 0:
            self.buf = buf
            return np.zeros((buf.shape[0], 0, self.n_fft // 2 + 1), complex)
        view = np.lib.stride_tricks.sliding_window_view(buf, self.n_fft, axis=1)
        frames = view[:, : (t - 1) * self.hop + 1: self.hop] * self.win  # (ch, T, n_fft)
        self.buf = buf[:, t * self.hop:]
        return sfft.rfft(frames, axis=-1)

    def finish(self) -> np.ndarray:
        return self.push(np.zeros((self.n_fft // 2, self.buf.shape[0])))


class _OverlapAdd:
    """Inverse of :class:`_Framer` as ``librosa.istft``: windowed overlap-add divided by the summed
    squared window; the ``n_fft // 2`` samples of centre padding are dropped."""

    def __init__(self, channels: int, n_fft: int, hop: int) -> None:
        if n_fft % hop:
            raise ValueError("n_fft must be a multiple of hop")
        self.n_fft, self.hop, self.k = n_fft, hop, n_fft // hop
        self.win = signal.get_window("hann", n_fft)
        self.acc, self.norm = np.zeros((n_fft - hop, channels)), np.zeros(n_fft - hop)
        self.skip = n_fft // 2

    def push(self, spectra: np.ndarray) -> np.ndarray:
        ch, t = spectra.shape[:2]
        if t == 0:
            return np.zeros((0, ch))
        frames = sfft.irfft(spectra, n=self.n_fft, axis=-1) * self.win
        out, norm = np.zeros((t + self.k - 1, self.hop, ch)), np.zeros((t + self.k - 1, self.hop))
        w2 = (self.win ** 2).reshape(self.k, self.hop)
        for j in range(self.k):
            out[j: j + t] += frames[:, :, j * self.hop: (j + 1) * self.hop].transpose(1, 2, 0)
            norm[j: j + t] += w2[j]
        out, norm = out.reshape(-1, ch), norm.reshape(-1)
        out[: len(self.acc)] += self.acc
        norm[: len(self.norm)] += self.norm
        done = t * self.hop
        self.acc, self.norm = out[done:], norm[done:]
        return self._emit(out[:done], norm[:done])

    def _emit(self, out: np.ndarray, norm: np.ndarray) -> np.ndarray:
        tiny = np.finfo(np.float64).tiny
        y = out / np.where(norm > tiny, norm, 1.0)[:, None]
        cut = min(self.skip, len(y))
        self.skip -= cut
        return y[cut:]

    def finish(self) -> np.ndarray:
        y = self._emit(self.acc, self.norm)
        self.acc, self.norm = self.acc[:0], self.norm[:0]
        return y


def _fit(y: np.ndarray, emitted: int, target: int) -> np.ndarray:
    """Cut or zero-pad the last piece of a stream so that it ends at ``target`` samples."""
    want = max(target - emitted, 0)
    if len(y) >= want:
        return y[:want]
    return np.concatenate([y, np.zeros((want - len(y), y.shape[1]))], axis=0)


class TimeStretchStream(Stream):
    """``librosa.effects.time_stretch`` streamed: a phase vocoder whose analysis frames arrive as
    the stream does; the accumulated phase is a running sum carried between blocks. Output length
    ``round(n / rate)``."""

    def __init__(self, channels: int, sr: int, rate: float, n_fft: int | None = None) -> None:
        if not 0.25 <= rate <= 4.0:
            raise BadInputError(f"tempo rate {rate:g} must be 0.25..4")
        n_fft = n_fft or auto_n_fft(sr)
        self.channels, self.rate, self.hop = channels, rate, n_fft // 4
        self.framer, self.ola = _Framer(channels, n_fft, self.hop), _OverlapAdd(channels, n_fft, self.hop)
        # magnitude and unit phasor of the analysis frames not yet used, each computed once
        self.mag = np.zeros((channels, 0, n_fft // 2 + 1))
        self.unit = np.zeros((channels, 0, n_fft // 2 + 1), complex)
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
        i0 = np.floor(steps).astype(int) - self.first
        alpha = (steps - np.floor(steps))[None, :, None]
        out_mag = (1.0 - alpha) * mag[:, i0] + alpha * mag[:, i0 + 1]
        turn = np.cumprod(unit[:, i0 + 1] * np.conj(unit[:, i0]), axis=1)
        phasors = np.concatenate([self.phasor[:, None], self.phasor[:, None] * turn[:, :-1]], axis=1)
        self.phasor = self.phasor * turn[:, -1]
        self.phasor /= np.abs(self.phasor)  # no drift of the modulus over hours
        self.t = int(ts[-1]) + 1
        drop = max(math.floor(self.t * self.rate) - self.first, 0)
        self.mag, self.unit, self.first = self.mag[:, drop:], self.unit[:, drop:], self.first + drop
        return out_mag * phasors

    def _add(self, spectra: np.ndarray) -> None:
        mag = np.abs(spectra)
        silent = mag == 0
        unit = spectra * (1.0 / np.where(silent, 1.0, mag))
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

    def __init__(self, channels: int, p: int, q: int) -> None:
        self.channels, self.p, self.q = channels, p, q
        half = 10 * max(p, q)  # resample_poly's filter
        self.h = signal.firwin(2 * half + 1, 1.0 / max(p, q), window=("kaiser", 5.0))
        self.c = -(-(half // q + 2) // p)  # overlap in groups of p input samples
        self.margin = self.c * p
        self.buf, self.base, self.j = np.zeros((self.margin, channels)), -self.margin, 0

    def _run(self, groups: int) -> np.ndarray:
        if groups <= 0:
            return np.zeros((0, self.channels))
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
        self.buf = np.concatenate([self.buf, np.zeros((max(need, 0), self.channels))], axis=0)
        return self._run(groups)[: max(total - self.j + groups * self.q, 0)]


class PitchShiftStream(Stream):
    """Pitch by ``semitones``, duration kept: stretch by ``r = 2**(s/12)`` then read ``r`` times
    faster (librosa's ``pitch_shift`` recipe with a streaming resampler)."""

    def __init__(self, channels: int, sr: int, semitones: float, n_fft: int | None = None) -> None:
        if abs(semitones) > 24:
            raise BadInputError(f"pitch shift {semitones:g} semitones must be within +-24")
        # a ratio p/q with q <= 100 is within 0.1 cent of 2**(s/12) and keeps the polyphase
        # filter short; stretch and resampler use the same ratio, so the duration is exact
        ratio = Fraction(2.0 ** (semitones / 12.0)).limit_denominator(100)
        self.channels, self.n_in = channels, 0
        self.stretch = TimeStretchStream(channels, sr, ratio.denominator / ratio.numerator, n_fft)
        self.read = _Resampler(channels, ratio.numerator, ratio.denominator)

    def process(self, block: np.ndarray) -> np.ndarray:
        self.n_in += len(block)
        return self.read.process(self.stretch.process(block))

    def flush(self) -> np.ndarray:
        y = self.read.process(self.stretch.flush())
        return np.concatenate([y, self.read.finish(self.n_in)], axis=0)


def _triangle(n: int) -> np.ndarray:
    """noisereduce's smoothing ramp: 2n+1 taps rising to 1 and back, normalised to sum 1."""
    ramp = np.concatenate([np.linspace(0, 1, n + 1, endpoint=False), np.linspace(1, 0, n + 2)])[1:-1]
    return ramp / ramp.sum()


class NoiseProfile:
    """First pass of denoising: per frequency, the mean + ``n_std`` standard deviations of the
    dB level of every STFT frame of the channel mix (noisereduce's stationary threshold). Means and
    variances are merged block by block (Chan et al.), so the pass holds no frames."""

    def __init__(self, channels: int, sr: int, n_std: float = 1.5, n_fft: int = 1024) -> None:
        self.framer, self.n_std = _Framer(1, n_fft, n_fft // 4), n_std
        self.scale = 1.0 / self.framer.win.sum()  # scipy.signal.stft's "spectrum" scaling
        self.count, self.mean, self.m2 = 0, np.zeros(n_fft // 2 + 1), np.zeros(n_fft // 2 + 1)

    def _add(self, spectra: np.ndarray) -> None:
        db = 20.0 * np.log10(np.abs(spectra[0]) * self.scale + np.finfo(np.float64).eps)
        if len(db) == 0:
            return
        n, mean = len(db), db.mean(axis=0)
        total = self.count + n
        delta = mean - self.mean
        self.m2 += ((db - mean) ** 2).sum(axis=0) + delta ** 2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    def feed(self, block: np.ndarray) -> None:
        self._add(self.framer.push(block.mean(axis=1, keepdims=True)))

    def result(self) -> np.ndarray:
        """The gate threshold in dB per frequency bin."""
        self._add(self.framer.finish())
        return self.mean + self.n_std * np.sqrt(self.m2 / max(self.count, 1))


class SpectralGateStream(Stream):
    """Stationary spectral gate (noisereduce's algorithm) streamed: bins above the threshold pass,
    the others are scaled by ``1 - prop_decrease``; the mask is smoothed by a triangle over
    ``freq_smooth_hz`` and ``time_smooth_ms``, the time part looking ahead a few frames."""

    def __init__(self, channels: int, sr: int, threshold_db: np.ndarray, prop_decrease: float = 1.0,
                 n_fft: int = 1024, freq_smooth_hz: float = 500.0, time_smooth_ms: float = 50.0) -> None:
        if not 0 <= prop_decrease <= 1:
            raise BadInputError(f"denoise strength {prop_decrease:g} must be 0..1")
        hop = n_fft // 4
        self.channels, self.thresh, self.prop = channels, threshold_db, prop_decrease
        self.framer, self.ola = _Framer(channels, n_fft, hop), _OverlapAdd(channels, n_fft, hop)
        self.scale = 1.0 / self.framer.win.sum()
        n_freq = max(int(freq_smooth_hz / (sr / (n_fft / 2))), 1)
        n_time = max(int(time_smooth_ms / (hop / sr * 1000)), 1)
        smooth = n_freq > 1 or n_time > 1
        self.kf = _triangle(n_freq) if smooth else np.ones(1)
        self.kt = _triangle(n_time) if smooth else np.ones(1)
        self.m = len(self.kt) // 2
        shape = (channels, self.m, n_fft // 2 + 1)
        self.masks, self.specs = np.zeros(shape), np.zeros(shape, complex)  # m frames of history
        self.n_in = self.n_out = 0

    def _gate(self, spectra: np.ndarray, final: bool) -> np.ndarray:
        db = 20.0 * np.log10(np.abs(spectra) * self.scale + np.finfo(np.float64).eps)
        mask = (db > self.thresh) * self.prop + (1.0 - self.prop)
        mask = ndimage.convolve1d(mask, self.kf, axis=-1, mode="constant")
        self.masks = np.concatenate([self.masks, mask], axis=1)
        self.specs = np.concatenate([self.specs, spectra], axis=1)
        if final:  # the mask is zero past the end, as in a "same" convolution
            self.masks = np.concatenate([self.masks, np.zeros_like(self.masks[:, : self.m])], axis=1)
        ready = self.masks.shape[1] - 2 * self.m
        if ready <= 0:
            return self.specs[:, :0]
        smooth = sum(w * self.masks[:, k: k + ready] for k, w in enumerate(self.kt))
        out = self.specs[:, self.m: self.m + ready] * smooth
        self.masks, self.specs = self.masks[:, ready:], self.specs[:, ready:]
        return out

    def process(self, block: np.ndarray) -> np.ndarray:
        self.n_in += len(block)
        y = self.ola.push(self._gate(self.framer.push(block), final=False))
        self.n_out += len(y)
        return y

    def flush(self) -> np.ndarray:
        y = self.ola.push(self._gate(self.framer.finish(), final=True))
        return _fit(np.concatenate([y, self.ola.finish()], axis=0), self.n_out, self.n_in)


class NoiseFloor:
    """First pass of Wiener denoising: per frequency, the ``q``-quantile of every channel's frame
    power (a running histogram in 0.5 dB bins, so the pass holds no frames) divided by
    ``-ln(1 - q)``. Gaussian noise has exponentially distributed bin power, so this is its mean
    whenever more than ``1 - q`` of the frames at that frequency hold noise alone; the estimate is
    then smoothed over ``smooth_hz`` (noise spectra are smooth, 20 frames are not)."""

    LO, HI, STEP = -200.0, 100.0, 0.5

    def __init__(self, channels: int, sr: int, n_fft: int | None = None, q: float = 0.2,
                 smooth_hz: float = 300.0) -> None:
        self.n_fft = n_fft or auto_n_fft(sr)
        self.framer, self.q = _Framer(channels, self.n_fft, self.n_fft // 4), q
        self.width = max(int(smooth_hz / (sr / self.n_fft)), 0)
        self.bins, self.n_freq = int((self.HI - self.LO) / self.STEP), self.n_fft // 2 + 1
        self.hist, self.count = np.zeros(self.bins * self.n_freq, np.int64), 0

    def _add(self, spectra: np.ndarray) -> None:
        power = (np.abs(spectra) ** 2).reshape(-1, self.n_freq)
        if len(power) == 0:
            return
        db = 10.0 * np.log10(power + 1e-30)
        idx = np.clip(((db - self.LO) / self.STEP).astype(int), 0, self.bins - 1)
        flat = (idx * self.n_freq + np.arange(self.n_freq)).ravel()
        self.hist += np.bincount(flat, minlength=len(self.hist))
        self.count += len(power)

    def feed(self, block: np.ndarray) -> None:
        self._add(self.framer.push(block))

    def result(self) -> np.ndarray:
        """The noise power per frequency bin (of an unscaled Hann-windowed rfft)."""
        self._add(self.framer.finish())
        cum = self.hist.reshape(self.bins, self.n_freq).cumsum(axis=0)
        k = np.argmax(cum >= self.q * max(self.count, 1), axis=0)
        power = 10.0 ** ((self.LO + (k + 0.5) * self.STEP) / 10.0) / -math.log(1.0 - self.q)
        if self.width:
            power = ndimage.uniform_filter1d(power, 2 * self.width + 1, mode="nearest")
        return power


class WienerStream(Stream):
    """Wiener gain with the decision-directed a-priori SNR (Ephraim & Malah 1984):
    ``xi = alpha * G_prev**2 * gamma_prev + (1 - alpha) * max(gamma - 1, 0)``, ``G = xi / (1 + xi)``
    floored at ``floor``, where ``gamma`` is a bin's power over the noise power. The recursion runs
    frame by frame, vectorised over channels and frequencies; its state crosses blocks."""

    def __init__(self, channels: int, sr: int, noise_power: np.ndarray, n_fft: int | None = None,
                 alpha: float = 0.9, floor: float = 0.05) -> None:
        n_fft = n_fft or auto_n_fft(sr)
        if len(noise_power) != n_fft // 2 + 1:
            raise ValueError("noise_power does not match n_fft")
        self.channels, self.alpha, self.floor = channels, alpha, floor
        self.noise = np.maximum(noise_power, 1e-30)
        self.framer, self.ola = _Framer(channels, n_fft, n_fft // 4), _OverlapAdd(channels, n_fft, n_fft // 4)
        self.prev = np.zeros((channels, n_fft // 2 + 1))
        self.n_in = self.n_out = 0

    def _gains(self, spectra: np.ndarray) -> np.ndarray:
        gamma = np.abs(spectra) ** 2 / self.noise
        gains = np.empty_like(gamma)
        for t in range(gamma.shape[1]):
            xi = self.alpha * self.prev + (1.0 - self.alpha) * np.maximum(gamma[:, t] - 1.0, 0.0)
            g = np.maximum(xi / (1.0 + xi), self.floor)
            gains[:, t] = g
            self.prev = g * g * gamma[:, t]
        return spectra * gains

    def process(self, block: np.ndarray) -> np.ndarray:
        self.n_in += len(block)
        y = self.ola.push(self._gains(self.framer.push(block)))
        self.n_out += len(y)
        return y

    def flush(self) -> np.ndarray:
        y = np.concatenate([self.ola.push(self._gains(self.framer.finish())), self.ola.finish()], axis=0)
        return _fit(y, self.n_out, self.n_in)


# --- pitch, tempo, denoise --------------------------------------------------------------------
