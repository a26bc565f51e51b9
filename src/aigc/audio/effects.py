"""Audio effects: each one a pure function ``f(wave, sr, **params) -> wave`` (numpy / scipy).

A wave is a float array, ``(n,)`` mono or ``(n, channels)``, full scale +-1. Every effect that
keeps state from one sample to the next (filters, compressor, reverb, fade, phase vocoder,
resampler, spectral gate) is a small stream class, ``process(block) -> block`` then
``flush() -> tail`` on ``(n, channels)`` blocks; the pure function runs its stream over the
whole wave as one float64 block (the editor builds the same streams for float32, ``dtype``). The streaming editor (:mod:`aigc.audio.edit`) therefore runs the very code
the tests check against scipy, librosa, pyloudnorm and noisereduce, and a test checks that any
block size gives the same output.

Three effects need the whole signal before they can start: loudness normalisation (the integrated
loudness of BS.1770 gates on all blocks), trimming trailing silence (only the end tells where it
starts) and stationary denoising (the noise profile is the whole file's statistics). Each is split
into an analyser (``feed(block)`` then ``result()``) for a first streaming pass and a plain stream
for the second.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from aigc.audio.effects_filters import (
    GainStream,
    SosStream,
    butter_sos,
    eq,
    fuse_streams,
    gain,
    highpass,
    lowpass,
    rbj_biquad,
)
from aigc.audio.effects_pitch import (
    PitchShiftStream,
    PitchTempoStream,
    TimeStretchStream,
)
from aigc.audio.effects_stft import (
    NoiseFloor,
    NoiseProfile,
    SpectralGateStream,
    WienerStream,
    auto_n_fft,
)
from aigc.audio.stream import Stream, as_2d, run_stream
from aigc.core.errors import BadInputError

__all__ = [
    "CompressorStream",
    "FadeStream",
    "GainStream",
    "LoudnessMeter",
    "NoiseFloor",
    "NoiseProfile",
    "PitchShiftStream",
    "PitchTempoStream",
    "ReverbStream",
    "SilenceFinder",
    "SosStream",
    "SpectralGateStream",
    "Stream",
    "TimeStretchStream",
    "TrimStream",
    "WienerStream",
    "as_2d",
    "auto_n_fft",
    "butter_sos",
    "compress",
    "denoise",
    "eq",
    "fade",
    "fuse_streams",
    "gain",
    "highpass",
    "integrated_loudness",
    "k_weighting_sos",
    "lowpass",
    "normalize",
    "pitch_shift",
    "rbj_biquad",
    "reverb",
    "reverb_ir",
    "run_stream",
    "speed",
    "time_stretch",
    "trim_silence",
]

# --- dynamics ------------------------------------------------------------------------------

def _one_pole(tau_s: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    a = math.exp(-1.0 / max(tau_s * sr, 1e-9))
    return np.array([1.0 - a]), np.array([1.0, -a])


class CompressorStream(Stream):
    """Feed-forward compressor, channels linked, every stage a linear one-pole filter.

    Level: mean square over channels smoothed with the attack time constant (RMS detector).
    Gain reduction above ``threshold_db``: ``(level - threshold) * (1 - 1 / ratio)`` dB, smoothed by
    the larger of a fast (attack) and a slow (release) one-pole follower, so it rises at the
    attack rate and falls at the release rate. A steady tone at L dB comes out at
    ``threshold + (L - threshold) / ratio + makeup`` dB. Linear filters keep it vectorised and
    exactly streamable (scipy.signal.lfilter with state).
    """

    def __init__(self, channels: int, sr: int, threshold_db: float = -20.0, ratio: float = 4.0,
                 attack_ms: float = 10.0, release_ms: float = 100.0, makeup_db: float = 0.0,
                 dtype: type = np.float64) -> None:
        if ratio < 1 or attack_ms <= 0 or release_ms <= 0:
            raise BadInputError(f"compress: ratio {ratio:g} must be >= 1 and attack/release "
                                f"({attack_ms:g}/{release_ms:g} ms) positive")
        self.channels, self.threshold, self.slope = channels, threshold_db, 1.0 - 1.0 / ratio
        self.dtype = dtype
        self.makeup = makeup_db
        self.att = tuple(c.astype(dtype) for c in _one_pole(attack_ms / 1000.0, sr))
        self.rel = tuple(c.astype(dtype) for c in _one_pole(release_ms / 1000.0, sr))
        self.z = [np.zeros(1, dtype), np.zeros(1, dtype), np.zeros(1, dtype)]
        self.tiny = max(1e-20, float(np.finfo(dtype).tiny))

    def process(self, block: np.ndarray) -> np.ndarray:
        if len(block) == 0:
            return block
        power = np.einsum("ij,ij->i", block, block) * (1.0 / block.shape[1])
        env, self.z[0] = signal.lfilter(*self.att, power, zi=self.z[0])
        level = 10.0 * np.log10(np.maximum(env, self.tiny))
        reduction = np.maximum(level - self.threshold, 0.0) * self.slope
        fast, self.z[1] = signal.lfilter(*self.att, reduction, zi=self.z[1])
        slow, self.z[2] = signal.lfilter(*self.rel, reduction, zi=self.z[2])
        # 10 ** (dB / 20) as one exp
        return block * np.exp(np.maximum(fast, slow) * (-math.log(10.0) / 20.0)
                              + self.makeup * math.log(10.0) / 20.0)[:, None]


def compress(wave: np.ndarray, sr: int, threshold_db: float = -20.0, ratio: float = 4.0,
             attack_ms: float = 10.0, release_ms: float = 100.0, makeup_db: float = 0.0) -> np.ndarray:
    """Dynamic range compression (see :class:`CompressorStream`)."""
    return run_stream(CompressorStream(as_2d(wave).shape[1], sr, threshold_db, ratio, attack_ms,
                                       release_ms, makeup_db), wave)


# --- reverb ----------------------------------------------------------------------------------

def reverb_ir(sr: int, rt60: float = 1.2, seed: int = 0, predelay_ms: float = 10.0) -> np.ndarray:
    """A synthetic room: exponentially decaying Gaussian noise that falls 60 dB in ``rt60`` s,
    after ``predelay_ms`` of silence, scaled to unit energy. Same ``seed``, same room."""
    if not 0.05 <= rt60 <= 10:
        raise BadInputError(f"reverb RT60 {rt60:g} s must be 0.05..10")
    n = round(rt60 * sr)
    t = np.arange(n) / sr
    tail = np.random.default_rng(seed).standard_normal(n) * 10.0 ** (-3.0 * t / rt60)
    ir = np.concatenate([np.zeros(round(predelay_ms * sr / 1000.0)), tail])
    return ir / np.sqrt(np.sum(ir * ir))


class ReverbStream(Stream):
    """``(1 - amount) * x + amount * (x * ir)``: FFT convolution of each block carrying the tail
    into the next. A block at least half as long as the room is convolved in one FFT with the
    room's spectrum computed once per FFT size (a few sizes kept); shorter blocks go through
    ``scipy.signal.oaconvolve``. The output keeps the input's length (the tail past the end is
    dropped; add ``--fade`` for a clean ending)."""

    def __init__(self, channels: int, sr: int, amount: float = 0.3, rt60: float = 1.2,
                 seed: int = 0, dtype: type = np.float64) -> None:
        if not 0 <= amount <= 1:
            raise BadInputError(f"reverb amount {amount:g} must be 0..1 (the wet share)")
        self.channels, self.amount, self.dtype = channels, amount, dtype
        self.ir = (amount * reverb_ir(sr, rt60, seed)).astype(dtype)[:, None]  # the wet share folded in
        self.tail = np.zeros((len(self.ir) - 1, channels), dtype)
        self.spectra: dict[int, np.ndarray] = {}

    def _convolve(self, block: np.ndarray) -> np.ndarray:
        from scipy import fft as sfft

        m = len(block) + len(self.ir) - 1
        if 2 * len(block) < len(self.ir):
            return signal.oaconvolve(block, self.ir, axes=0)
        nfft = sfft.next_fast_len(m, real=True)
        if nfft not in self.spectra:
            if len(self.spectra) >= 4:
                self.spectra.pop(next(iter(self.spectra)))
            self.spectra[nfft] = sfft.rfft(self.ir, nfft, axis=0)
        return sfft.irfft(sfft.rfft(block, nfft, axis=0) * self.spectra[nfft], nfft, axis=0)[:m]

    def process(self, block: np.ndarray) -> np.ndarray:
        n = len(block)
        if n == 0:
            return block
        wet = self._convolve(block)
        wet[: len(self.tail)] += self.tail
        self.tail = wet[n:]
        return (1.0 - self.amount) * block + wet[:n]


def reverb(wave: np.ndarray, sr: int, amount: float = 0.3, rt60: float = 1.2, seed: int = 0) -> np.ndarray:
    """Convolution reverb with a synthetic room (:func:`reverb_ir`), ``amount`` = wet share."""
    return run_stream(ReverbStream(as_2d(wave).shape[1], sr, amount, rt60, seed), wave)


# --- fade and trim ---------------------------------------------------------------------------

class FadeStream(Stream):
    """Linear fade-in over the first ``fade_in`` s and fade-out over the last ``fade_out`` s. The
    end is not known until the stream ends, so the last ``fade_out`` s are held back (bounded
    look-ahead) and faded on ``flush``."""

    def __init__(self, channels: int, sr: int, fade_in: float, fade_out: float | None = None,
                 dtype: type = np.float64) -> None:
        fade_out = fade_in if fade_out is None else fade_out
        if fade_in < 0 or fade_out < 0:
            raise BadInputError(f"fade lengths {fade_in:g}:{fade_out:g} s must be >= 0")
        self.channels = channels
        self.n_in, self.n_out = round(fade_in * sr), round(fade_out * sr)
        self.pos = 0
        self.held = np.zeros((0, channels), dtype)

    def _fade_in(self, block: np.ndarray) -> np.ndarray:
        if self.pos < self.n_in and len(block):
            idx = np.arange(self.pos, self.pos + len(block))
            block = block * np.minimum(idx / self.n_in, 1.0).astype(block.dtype)[:, None]
        self.pos += len(block)
        return block

    def process(self, block: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self.held, block], axis=0)
        cut = max(len(buf) - self.n_out, 0)
        self.held = buf[cut:]
        return self._fade_in(buf[:cut])

    def flush(self) -> np.ndarray:
        ramp = (self.n_out - 1 - np.arange(self.n_out)) / max(self.n_out, 1)
        out = self.held * ramp[self.n_out - len(self.held):, None].astype(self.held.dtype)
        self.held = self.held[:0]
        return self._fade_in(out)


def fade(wave: np.ndarray, sr: int, fade_in: float, fade_out: float | None = None) -> np.ndarray:
    """Linear fade-in and fade-out (seconds); ``fade_out`` defaults to ``fade_in``."""
    return run_stream(FadeStream(as_2d(wave).shape[1], sr, fade_in, fade_out), wave)


class SilenceFinder:
    """First pass of trimming: the first and last frames whose mean square (any channel) is above
    ``threshold_db`` dBFS, on librosa's frames (``frame_length`` 2048, ``hop`` 512, centred,
    zero-padded), i.e. ``librosa.effects.trim(y, top_db=-threshold_db, ref=1.0)``."""

    def __init__(self, channels: int, threshold_db: float = -50.0, frame_length: int = 2048,
                 hop: int = 512) -> None:
        if frame_length % hop:
            raise ValueError("frame_length must be a multiple of hop")
        self.threshold = 10.0 ** (threshold_db / 10.0)
        self.frame, self.hop, self.n = frame_length, hop, 0
        self.rest = np.zeros((frame_length // 2, channels))  # centre padding
        self.chunks = np.zeros((0, channels))  # hop sums not yet part of a whole frame
        self.first = self.last = None
        self.frames = 0

    def _scan(self, sq: np.ndarray) -> None:
        buf = np.concatenate([self.rest, sq], axis=0)
        k = len(buf) // self.hop
        sums = buf[: k * self.hop].reshape(k, self.hop, buf.shape[1]).sum(axis=1)
        self.rest = buf[k * self.hop:]
        self.chunks = np.concatenate([self.chunks, sums], axis=0)
        per = self.frame // self.hop
        m = len(self.chunks) - per + 1
        if m <= 0:
            return
        energy = sum(self.chunks[j: j + m] for j in range(per)) / self.frame
        loud = np.flatnonzero(np.max(energy, axis=1) > max(self.threshold, 1e-10))
        if len(loud):
            self.first = self.frames + loud[0] if self.first is None else self.first
            self.last = self.frames + loud[-1]
        self.frames += m
        self.chunks = self.chunks[m:]

    def feed(self, block: np.ndarray) -> None:
        self.n += len(block)
        self._scan(block * block)

    def result(self) -> tuple[int, int]:
        """``(start, end)`` sample indices to keep; ``(0, 0)`` when all of it is silent."""
        total = 1 + self.n // self.hop
        self._scan(np.zeros((self.frame // 2 + self.hop, self.rest.shape[1])))
        if self.first is None or self.first >= total:
            return 0, 0
        last = min(self.last, total - 1)
        return self.first * self.hop, min(self.n, (last + 1) * self.hop)


class TrimStream(Stream):
    """Keep samples ``start <= i < end`` of the stream."""

    def __init__(self, channels: int, start: int, end: int) -> None:
        self.channels, self.start, self.end, self.pos = channels, start, end, 0

    def process(self, block: np.ndarray) -> np.ndarray:
        lo, hi = self.pos, self.pos + len(block)
        self.pos = hi
        return block[max(self.start - lo, 0): max(min(self.end, hi) - lo, 0)]


def trim_silence(wave: np.ndarray, sr: int, threshold_db: float = -50.0) -> np.ndarray:
    """Cut leading and trailing frames quieter than ``threshold_db`` dBFS (see :class:`SilenceFinder`)."""
    x = as_2d(wave)
    finder = SilenceFinder(x.shape[1], threshold_db)
    finder.feed(x)
    return run_stream(TrimStream(x.shape[1], *finder.result()), wave)


# --- loudness (ITU-R BS.1770-4) ----------------------------------------------------------------

def k_weighting_sos(sr: int) -> np.ndarray:
    """BS.1770 K-weighting: the RBJ high shelf (+4 dB, 1500 Hz) and high-pass (38 Hz) that
    pyloudnorm uses, as two second-order sections."""
    return np.concatenate([rbj_biquad("high_shelf", sr, 1500.0, 1 / math.sqrt(2), 4.0),
                           rbj_biquad("high_pass", sr, 38.0, 0.5)])


class LoudnessMeter:
    """Integrated loudness (LUFS) of a stream: K-weighting with state, then the mean square of
    400 ms blocks every 100 ms from running sums, gated at -70 LUFS and -10 LU relative, with the
    block boundaries and channel weights of ITU-R BS.1770-4 as pyloudnorm writes them."""

    BLOCK, STEP = 0.4, 0.25

    def __init__(self, channels: int, sr: int) -> None:
        if channels > 5:
            raise BadInputError(f"loudness is defined for up to 5 channels, got {channels}")
        self.sr, self.filter = sr, SosStream(channels, k_weighting_sos(sr))
        self.weights = np.array([1.0, 1.0, 1.0, 1.41, 1.41][:channels])
        self.n, self.total = 0, np.zeros(channels)
        self.next_lo = self.next_hi = 0
        self.pending: dict[int, np.ndarray] = {}
        self.z: list[np.ndarray] = []

    def _bounds(self, j: int) -> tuple[int, int]:
        t_g, step = self.BLOCK, self.STEP
        return int(t_g * (j * step) * self.sr), int(t_g * (j * step + 1) * self.sr)

    def feed(self, block: np.ndarray) -> None:
        sq = self.filter.process(block) ** 2
        csum = np.cumsum(sq, axis=0) + self.total
        start, end = self.n, self.n + len(block)

        def at(b: int) -> np.ndarray:
            return self.total if b == start else csum[b - start - 1]

        while self._bounds(self.next_lo)[0] <= end:
            self.pending[self.next_lo] = at(self._bounds(self.next_lo)[0]).copy()
            self.next_lo += 1
        while self._bounds(self.next_hi)[1] <= end:
            self.z.append(at(self._bounds(self.next_hi)[1]) - self.pending.pop(self.next_hi))
            self.next_hi += 1
        if len(block):
            self.n, self.total = end, csum[-1].copy()

    def result(self) -> float:
        """The integrated loudness in LUFS (``-inf`` for silence or less than one block)."""
        duration = self.n / self.sr
        if duration < self.BLOCK:
            return float("-inf")
        n_blocks = int(np.round((duration - self.BLOCK) / (self.BLOCK * self.STEP))) + 1
        z = list(self.z[:n_blocks])
        for j in range(len(z), n_blocks):  # blocks that run past the end sum what there is
            z.append(self.total - self.pending.get(j, self.total))
        power = np.array(z) / (self.BLOCK * self.sr) @ self.weights
        with np.errstate(divide="ignore"):
            loud = -0.691 + 10.0 * np.log10(power)
        gated = power[loud >= -70.0]
        if len(gated) == 0:
            return float("-inf")
        relative = -0.691 + 10.0 * math.log10(gated.mean()) - 10.0
        gated = power[(loud > relative) & (loud > -70.0)]
        return float(-0.691 + 10.0 * np.log10(gated.mean())) if len(gated) else float("-inf")


def integrated_loudness(wave: np.ndarray, sr: int) -> float:
    """BS.1770-4 integrated loudness in LUFS (agrees with ``pyloudnorm.Meter(sr)``)."""
    x = as_2d(wave)
    meter = LoudnessMeter(x.shape[1], sr)
    meter.feed(x)
    return meter.result()


def normalize(wave: np.ndarray, sr: int, target_lufs: float = -16.0) -> np.ndarray:
    """Gain to ``target_lufs`` integrated loudness; silence is returned unchanged."""
    measured = integrated_loudness(wave, sr)
    return gain(wave, sr, target_lufs - measured) if np.isfinite(measured) else np.array(wave, float)


# --- STFT streams: phase vocoder, resampler, spectral gate -------------------------------------


def time_stretch(wave: np.ndarray, sr: int, rate: float, n_fft: int | None = None) -> np.ndarray:
    """Phase-vocoder tempo change by ``rate`` (> 1 faster), pitch kept; librosa's algorithm."""
    return run_stream(TimeStretchStream(as_2d(wave).shape[1], sr, rate, n_fft), wave)


def speed(wave: np.ndarray, sr: int, factor: float) -> np.ndarray:
    """Play ``factor`` times faster at the same pitch (duration / factor)."""
    return time_stretch(wave, sr, factor)


def pitch_shift(wave: np.ndarray, sr: int, semitones: float, n_fft: int | None = None) -> np.ndarray:
    """Shift pitch by ``semitones`` keeping the duration: stretch by ``2**(s/12)``, then resample."""
    return run_stream(PitchShiftStream(as_2d(wave).shape[1], sr, semitones, n_fft), wave)


def denoise(wave: np.ndarray, sr: int, method: str = "wiener") -> np.ndarray:
    """Stationary-noise reduction in two passes: measure the noise, then gate the STFT.

    ``"wiener"`` (default): noise power from a low quantile of each frequency's frame power
    (:class:`NoiseFloor`), soft decision-directed Wiener gain (:class:`WienerStream`).
    ``"gate"``: noisereduce's stationary spectral gate (threshold mean + 1.5 std of each
    frequency's dB level over the whole wave, binary mask smoothed over 500 Hz and 50 ms)."""
    x = as_2d(wave)
    if method == "gate":
        profile = NoiseProfile(x.shape[1], sr)
        profile.feed(x)
        return run_stream(SpectralGateStream(x.shape[1], sr, profile.result()), wave)
    if method != "wiener":
        raise BadInputError(f"denoise method {method!r}: use wiener or gate")
    floor = NoiseFloor(x.shape[1], sr)
    floor.feed(x)
    return run_stream(WienerStream(x.shape[1], sr, floor.result()), wave)
