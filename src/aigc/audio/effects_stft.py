"""The short-time Fourier framing shared by the STFT effects (a streamed ``librosa.stft`` /
``istft`` pair) and two stationary denoisers (a spectral gate as noisereduce's, and a soft
Wiener-type gain). Each effect is a :class:`~aigc.audio.stream.Stream`; the phase vocoder and the
resampler are in :mod:`aigc.audio.effects_pitch`. Streams compute in the precision they are built
for (``dtype``: float64 for the reference functions, float32 in the editor)."""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sfft
from scipy import ndimage, signal

from aigc.audio.stream import Stream
from aigc.core.errors import BadInputError

__all__ = ["NoiseFloor", "NoiseProfile", "SpectralGateStream", "WienerStream", "auto_n_fft"]


def auto_n_fft(sr: int) -> int:
    """About 46 ms: 2048 at 44.1 kHz (librosa's default), 512 at 8 kHz."""
    return int(2 ** round(math.log2(0.046 * sr)))


class _Framer:
    """Cut a stream into centred (``n_fft // 2`` zeros in front), Hann-windowed frames every
    ``hop`` samples, as ``librosa.stft(center=True, pad_mode="constant")``: spectra ``(ch, T, F)``."""

    def __init__(self, channels: int, n_fft: int, hop: int, dtype: type = np.float64) -> None:
        self.n_fft, self.hop, self.win = n_fft, hop, signal.get_window("hann", n_fft).astype(dtype)
        self.buf = np.zeros((channels, n_fft // 2), dtype)  # channels first: frames come out contiguous
        self.complex = np.result_type(dtype, np.complex64)

    def push(self, block: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self.buf, block.T], axis=1)
        t = 0 if buf.shape[1] < self.n_fft else 1 + (buf.shape[1] - self.n_fft) // self.hop
        if t == 0:
            self.buf = buf
            return np.zeros((buf.shape[0], 0, self.n_fft // 2 + 1), self.complex)
        view = np.lib.stride_tricks.sliding_window_view(buf, self.n_fft, axis=1)
        frames = view[:, : (t - 1) * self.hop + 1: self.hop] * self.win  # (ch, T, n_fft)
        self.buf = buf[:, t * self.hop:]
        return sfft.rfft(frames, axis=-1)

    def finish(self) -> np.ndarray:
        return self.push(np.zeros((self.n_fft // 2, self.buf.shape[0]), self.buf.dtype))


class _OverlapAdd:
    """Inverse of :class:`_Framer` as ``librosa.istft``: windowed overlap-add divided by the summed
    squared window; the ``n_fft // 2`` samples of centre padding are dropped."""

    def __init__(self, channels: int, n_fft: int, hop: int, dtype: type = np.float64) -> None:
        if n_fft % hop:
            raise ValueError("n_fft must be a multiple of hop")
        self.n_fft, self.hop, self.k, self.dtype = n_fft, hop, n_fft // hop, dtype
        self.win = signal.get_window("hann", n_fft).astype(dtype)
        self.acc, self.norm = np.zeros((n_fft - hop, channels), dtype), np.zeros(n_fft - hop, dtype)
        self.skip = n_fft // 2

    def push(self, spectra: np.ndarray) -> np.ndarray:
        ch, t = spectra.shape[:2]
        if t == 0:
            return np.zeros((0, ch), self.dtype)
        frames = sfft.irfft(spectra, n=self.n_fft, axis=-1) * self.win
        out = np.zeros((t + self.k - 1, self.hop, ch), self.dtype)
        norm = np.zeros((t + self.k - 1, self.hop), self.dtype)
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
    return np.concatenate([y, np.zeros((want - len(y), y.shape[1]), y.dtype)], axis=0)


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
                 n_fft: int = 1024, freq_smooth_hz: float = 500.0, time_smooth_ms: float = 50.0,
                 dtype: type = np.float64) -> None:
        if not 0 <= prop_decrease <= 1:
            raise BadInputError(f"denoise strength {prop_decrease:g} must be 0..1")
        hop = n_fft // 4
        self.channels, self.thresh, self.prop = channels, threshold_db, prop_decrease
        self.framer, self.ola = _Framer(channels, n_fft, hop, dtype), _OverlapAdd(channels, n_fft, hop, dtype)
        self.scale = 1.0 / float(self.framer.win.sum())
        n_freq = max(int(freq_smooth_hz / (sr / (n_fft / 2))), 1)
        n_time = max(int(time_smooth_ms / (hop / sr * 1000)), 1)
        smooth = n_freq > 1 or n_time > 1
        self.kf = _triangle(n_freq) if smooth else np.ones(1)
        self.kt = _triangle(n_time) if smooth else np.ones(1)
        self.m = len(self.kt) // 2
        shape = (channels, self.m, n_fft // 2 + 1)
        self.masks = np.zeros(shape, dtype)  # m frames of history
        self.specs = np.zeros(shape, self.framer.complex)
        self.n_in = self.n_out = 0

    def _gate(self, spectra: np.ndarray, final: bool) -> np.ndarray:
        db = 20.0 * np.log10(np.abs(spectra) * self.scale + np.finfo(np.float64).eps)
        mask = ((db > self.thresh) * self.prop + (1.0 - self.prop)).astype(self.masks.dtype)
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
    power (a running histogram in 0.5 dB bins, so the pass holds no frames; frames every half
    window, as neighbours a quarter window apart add little to a quantile) divided by
    ``-ln(1 - q)``. Gaussian noise has exponentially distributed bin power, so this is its mean
    whenever more than ``1 - q`` of the frames at that frequency hold noise alone; the estimate is
    then smoothed over ``smooth_hz`` (noise spectra are smooth, 20 frames are not)."""

    LO, HI, STEP = -200.0, 100.0, 0.5

    def __init__(self, channels: int, sr: int, n_fft: int | None = None, q: float = 0.2,
                 smooth_hz: float = 300.0, dtype: type = np.float64) -> None:
        self.n_fft = n_fft or auto_n_fft(sr)
        self.framer, self.q = _Framer(channels, self.n_fft, self.n_fft // 2, dtype), q
        self.width = max(int(smooth_hz / (sr / self.n_fft)), 0)
        self.bins, self.n_freq = int((self.HI - self.LO) / self.STEP), self.n_fft // 2 + 1
        self.hist, self.count = np.zeros(self.bins * self.n_freq, np.int64), 0

    def _add(self, spectra: np.ndarray) -> None:
        power = (spectra.real ** 2 + spectra.imag ** 2).reshape(-1, self.n_freq)
        if len(power) == 0:
            return
        # the 0.5 dB bin of 10 log10(power): (10 log10(p) - LO) / STEP, in one pass
        pos = np.log10(np.maximum(power, 1e-30)) * (10.0 / self.STEP) - self.LO / self.STEP
        idx = np.clip(pos.astype(np.int32), 0, self.bins - 1)
        flat = (idx * self.n_freq + np.arange(self.n_freq, dtype=np.int32)).ravel()
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
                 alpha: float = 0.9, floor: float = 0.05, dtype: type = np.float64) -> None:
        n_fft = n_fft or auto_n_fft(sr)
        if len(noise_power) != n_fft // 2 + 1:
            raise ValueError("noise_power does not match n_fft")
        self.channels, self.alpha, self.floor = channels, alpha, floor
        self.inv_noise = (1.0 / np.maximum(noise_power, 1e-30)).astype(dtype)
        self.framer = _Framer(channels, n_fft, n_fft // 4, dtype)
        self.ola = _OverlapAdd(channels, n_fft, n_fft // 4, dtype)
        self.prev = np.zeros((channels, n_fft // 2 + 1), dtype)
        self.n_in = self.n_out = 0

    def _gains(self, spectra: np.ndarray) -> np.ndarray:
        # frames first, so that each step of the recursion works on one contiguous row
        gamma = np.ascontiguousarray(((spectra.real ** 2 + spectra.imag ** 2) * self.inv_noise).transpose(1, 0, 2))
        fresh = np.maximum(gamma - 1.0, 0.0) * (1.0 - self.alpha)  # the part not depending on t-1
        gains = np.empty_like(gamma)
        prev, xi = self.prev, np.empty_like(self.prev)
        for t in range(len(gamma)):
            np.multiply(prev, self.alpha, out=xi)
            xi += fresh[t]
            g = gains[t]
            np.divide(xi, xi + 1.0, out=g)
            np.maximum(g, self.floor, out=g)
            prev = g * g
            prev *= gamma[t]
        self.prev = prev
        return spectra * gains.transpose(1, 0, 2)

    def process(self, block: np.ndarray) -> np.ndarray:
        self.n_in += len(block)
        y = self.ola.push(self._gains(self.framer.push(block)))
        self.n_out += len(y)
        return y

    def flush(self) -> np.ndarray:
        y = np.concatenate([self.ola.push(self._gains(self.framer.finish())), self.ola.finish()], axis=0)
        return _fit(y, self.n_out, self.n_in)


# --- pitch, tempo, denoise --------------------------------------------------------------------
