"""Each audio effect against a reference: scipy's filter design, the RBJ cookbook's closed form,
librosa's phase vocoder and trim, pyloudnorm (BS.1770), noisereduce, convolution, closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal
from scipy.optimize import brentq

from aigc.audio import effects as fx
from aigc.core.errors import BadInputError
from aigc.core.paths import data_dir

SR = 16000


def _tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)


def _noise(n: int, seed: int = 0, channels: int | None = None) -> np.ndarray:
    shape = (n,) if channels is None else (n, channels)
    return 0.1 * np.random.default_rng(seed).standard_normal(shape)


def _rms_db(x: np.ndarray) -> float:
    return 10 * math.log10(np.mean(np.square(x)))


def _peak_hz(x: np.ndarray, sr: int) -> float:
    """Dominant frequency, refined by parabolic interpolation of the log spectrum."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) + 1e-12
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1: k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / len(x)


def _si_snr(ref: np.ndarray, est: np.ndarray) -> float:
    ref, est = ref - ref.mean(), est - est.mean()
    target = np.dot(est, ref) / np.dot(ref, ref) * ref
    return 10 * math.log10(np.sum(target ** 2) / np.sum((est - target) ** 2))


def _blocks(stream: fx.Stream, wave: np.ndarray, sizes=(1, 700, 0, 3001, 64)) -> np.ndarray:
    """Run ``stream`` over ``wave`` in uneven blocks (including an empty one)."""
    x, out, i, k = (wave if wave.ndim == 2 else fx.as_2d(wave)), [], 0, 0  # (n, ch) keeps its dtype
    while i < len(x):
        n = sizes[k % len(sizes)]
        out.append(stream.process(x[i: i + n]) if n else stream.process(x[:0]))
        i, k = i + n, k + 1
    out.append(stream.flush())
    return np.concatenate(out)


# --- filters ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,fn", [("highpass", fx.highpass), ("lowpass", fx.lowpass)])
@pytest.mark.parametrize("order", [2, 4])
def test_butterworth_filters_equal_scipy_design(kind, fn, order):
    x = _noise(4000, channels=2)
    ref = signal.sosfilt(signal.butter(order, 1500, btype=kind, fs=SR, output="sos"), x, axis=0)
    np.testing.assert_allclose(fn(x, SR, 1500, order=order), ref, rtol=0, atol=1e-12)


def test_highpass_2000_removes_20db_of_a_1khz_tone_and_keeps_5khz():
    low, high = _tone(1000, 1.0), _tone(5000, 1.0)
    settle = SR // 10
    loss_1k = _rms_db(low[settle:]) - _rms_db(fx.highpass(low, SR, 2000)[settle:])
    loss_5k = _rms_db(high[settle:]) - _rms_db(fx.highpass(high, SR, 2000)[settle:])
    assert loss_1k >= 20.0
    assert abs(loss_5k) < 0.5


def _rbj_closed_form_db(b: np.ndarray, a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """RBJ cookbook: 20 log10|H(e^jw)| from the coefficients with phi = sin^2(w/2)."""
    phi = np.sin(w / 2) ** 2

    def part(c):
        return ((c[0] + c[1] + c[2]) ** 2 - 4 * (c[0] * c[1] + 4 * c[0] * c[2] + c[1] * c[2]) * phi
                + 16 * c[0] * c[2] * phi ** 2)
    return 10 * np.log10(part(b)) - 10 * np.log10(part(a))


@pytest.mark.parametrize("freq,gain_db,q", [(1000, 3, 1.0), (250, -9, 0.7), (4000, 12, 2.5)])
def test_peaking_eq_matches_rbj_closed_form(freq, gain_db, q):
    sos = fx.rbj_biquad("peaking", SR, freq, q, gain_db)
    w, h = signal.sosfreqz(sos, worN=4096)
    np.testing.assert_allclose(20 * np.log10(np.abs(h)), _rbj_closed_form_db(sos[0, :3], sos[0, 3:], w),
                               atol=1e-6)
    _, h0 = signal.sosfreqz(sos, worN=[2 * np.pi * freq / SR])
    assert 20 * np.log10(abs(h0[0])) == pytest.approx(gain_db, abs=1e-9)  # exact gain at f0
    assert 20 * np.log10(abs(h[0])) == pytest.approx(0.0, abs=1e-9)  # 0 dB at DC
    # the half-gain (gain/2 dB) band edges: bilinear images of analog edges around tan(w0/2), and
    # Q's bandwidth in octaves, 1/Q = 2 sinh(ln2/2 * BW * w0/sin w0) (the cookbook's definition)
    w0 = 2 * np.pi * freq / SR

    def excess(w):
        return 20 * np.log10(abs(signal.sosfreqz(sos, worN=[w])[1][0])) - gain_db / 2
    lo, hi = brentq(excess, 1e-4, w0), brentq(excess, w0, np.pi - 1e-4)
    assert np.tan(lo / 2) * np.tan(hi / 2) == pytest.approx(np.tan(w0 / 2) ** 2, rel=1e-6)
    bw = 2 * np.arcsinh(1 / (2 * q)) / (np.log(2) * w0 / np.sin(w0))
    assert np.log2(hi / lo) == pytest.approx(bw, rel=0.03)
    x = _noise(3000)
    np.testing.assert_allclose(fx.eq(x, SR, freq, gain_db, q), signal.lfilter(sos[0, :3], sos[0, 3:], x),
                               atol=1e-12)


# --- dynamics, reverb, fade ------------------------------------------------------------------------

def test_compressor_steady_state_matches_the_static_curve():
    loud, quiet = _tone(1000, 1.0, amp=0.5), _tone(1000, 1.0, amp=0.01)
    level = _rms_db(loud)  # about -9 dBFS
    out = fx.compress(loud, SR, threshold_db=-20, ratio=4, makeup_db=2)
    expected = -20 + (level + 20) / 4 + 2
    assert _rms_db(out[SR // 2:]) == pytest.approx(expected, abs=0.25)
    below = fx.compress(quiet, SR, threshold_db=-20, ratio=4)  # -43 dBFS: untouched
    np.testing.assert_allclose(below, quiet, atol=1e-12)


def test_reverb_is_a_convolution_with_a_room_of_the_stated_rt60():
    x = _noise(6000)
    ir = fx.reverb_ir(SR, rt60=0.5, seed=3)
    expected = 0.7 * x + 0.3 * signal.fftconvolve(x, ir)[: len(x)]
    np.testing.assert_allclose(fx.reverb(x, SR, 0.3, rt60=0.5, seed=3), expected, atol=1e-12)
    # Schroeder backward integration: -5 dB to -35 dB spans half of RT60
    edc = 10 * np.log10(np.cumsum(ir[::-1] ** 2)[::-1] / np.sum(ir ** 2))
    t5, t35 = np.argmax(edc <= -5), np.argmax(edc <= -35)
    assert 2 * (t35 - t5) / SR == pytest.approx(0.5, rel=0.1)


def test_fade_is_a_linear_ramp_at_both_ends():
    out = fx.fade(np.ones(1000), 1000, 0.1, 0.2)
    np.testing.assert_allclose(out[:100], np.arange(100) / 100)
    np.testing.assert_allclose(out[-200:], (199 - np.arange(200)) / 200)
    assert np.all(out[100:800] == 1.0)


# --- pitch and tempo ------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [1.1, 0.8])
def test_time_stretch_equals_librosa(rate):
    librosa = pytest.importorskip("librosa")
    x = _noise(12000, seed=4)
    ref = librosa.effects.time_stretch(x, rate=rate, n_fft=1024)
    np.testing.assert_allclose(fx.time_stretch(x, SR, rate, n_fft=1024), ref, atol=1e-9)


def test_pitch_plus_12_moves_440_to_880_keeping_duration():
    x = _tone(440, 1.0)
    y = fx.pitch_shift(x, SR, 12)
    assert len(y) == len(x)
    assert _peak_hz(y, SR) == pytest.approx(880, rel=0.01)
    assert _peak_hz(fx.pitch_shift(x, SR, -5), SR) == pytest.approx(440 * 2 ** (-5 / 12), rel=0.01)


def test_speed_changes_duration_and_keeps_pitch():
    x = _tone(440, 1.0)
    y = fx.speed(x, SR, 1.25)
    assert len(y) == round(len(x) / 1.25)
    assert _peak_hz(y, SR) == pytest.approx(440, rel=0.01)


# --- loudness and trimming ---------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [None, 2])
def test_integrated_loudness_equals_pyloudnorm(channels):
    pyloudnorm = pytest.importorskip("pyloudnorm")
    x = _noise(SR * 3, seed=5, channels=channels) * np.linspace(0.05, 1, SR * 3).reshape(-1, *([1] * (channels is not None)))
    ours = fx.integrated_loudness(x, SR)
    assert ours == pytest.approx(pyloudnorm.Meter(SR).integrated_loudness(x), abs=1e-6)
    out = fx.normalize(x, SR, -16.0)
    assert pyloudnorm.Meter(SR).integrated_loudness(out) == pytest.approx(-16.0, abs=0.5)


def test_trim_silence_equals_librosa_trim():
    librosa = pytest.importorskip("librosa")
    x = np.concatenate([np.zeros(5000), 1e-4 * np.ones(3000), _tone(300, 0.5), np.zeros(7001)])
    _, (start, end) = librosa.effects.trim(x, top_db=50, ref=1.0, frame_length=2048, hop_length=512)
    out = fx.trim_silence(x, SR, -50)
    np.testing.assert_array_equal(out, x[start:end])
    assert len(fx.trim_silence(np.zeros(4000), SR)) == 0


# --- denoising ---------------------------------------------------------------------------------------

def test_gate_follows_noisereduce_stationary():
    nr = pytest.importorskip("noisereduce")
    sr = 8000
    rng = np.random.default_rng(6)
    clean = _tone(300, 1.0, sr, 0.3) * (np.arange(sr) > 3000)
    noisy = clean + 0.05 * rng.standard_normal(sr)
    ours = fx.denoise(noisy, sr, method="gate")
    ref = nr.reduce_noise(y=noisy, sr=sr, stationary=True)
    n = len(noisy) // 256 * 256  # noisereduce leaves the last partial hop at zero
    assert np.corrcoef(ours[:n], ref[:n])[0, 1] > 0.99


def test_denoise_raises_si_snr_of_fsdd_speech_in_white_noise_by_5db():
    folder = data_dir("fsdd") / "fsdd" / "recordings"
    if not folder.is_dir():
        pytest.skip("FSDD not found: no fsdd/recordings under any data root (AIGC_DATA_DIR)")
    import soundfile as sf

    nr = pytest.importorskip("noisereduce")
    gains, nr_gains = [], []
    for k, digit in enumerate(range(10)):  # test-split recordings (index 0) of several speakers
        speaker = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"][k % 6]
        clean, sr = sf.read(folder / f"{digit}_{speaker}_0.wav")
        noise = np.random.default_rng(k).standard_normal(len(clean))
        noise *= math.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2) / 10 ** 0.5)  # 5 dB SNR
        noisy = clean + noise
        gains.append(_si_snr(clean, fx.denoise(noisy, sr)) - _si_snr(clean, noisy))
        nr_gains.append(_si_snr(clean, nr.reduce_noise(y=noisy, sr=sr, stationary=True)) - _si_snr(clean, noisy))
    assert np.mean(gains) >= 5.0, gains
    assert np.mean(gains) > np.mean(nr_gains)  # and better than noisereduce's own gate here
    assert min(gains) > 1.0


# --- streaming ---------------------------------------------------------------------------------------

_STREAMS = {
    "gain": lambda ch: fx.GainStream(ch, -3.0),
    "sos": lambda ch: fx.SosStream(ch, fx.butter_sos(SR, 300, "highpass")),
    "compress": lambda ch: fx.CompressorStream(ch, SR, -30, 3, 5, 50),
    "reverb": lambda ch: fx.ReverbStream(ch, SR, 0.4, 0.3),
    "fade": lambda ch: fx.FadeStream(ch, SR, 0.05, 0.1),
    "trim": lambda ch: fx.TrimStream(ch, 1000, 9000),
    "stretch": lambda ch: fx.TimeStretchStream(ch, SR, 1.3),
    "pitch": lambda ch: fx.PitchShiftStream(ch, SR, 3.5),
    "pitch_tempo": lambda ch: fx.PitchTempoStream(ch, SR, -2.5, 1.2),
    "gate": lambda ch: fx.SpectralGateStream(ch, SR, np.full(257, -60.0), 0.8, n_fft=512),
    "wiener": lambda ch: fx.WienerStream(ch, SR, np.full(fx.auto_n_fft(SR) // 2 + 1, 1e-3)),
}


@pytest.mark.parametrize("name", sorted(_STREAMS))
def test_any_block_size_gives_the_one_block_result(name):
    x = _noise(10000, seed=7, channels=2)
    whole = fx.run_stream(_STREAMS[name](2), x)
    np.testing.assert_allclose(_blocks(_STREAMS[name](2), x), whole, atol=1e-10)


_F32 = {  # the same streams as the editor builds them, in float32
    "sos": lambda: fx.SosStream(2, fx.butter_sos(SR, 300, "highpass"), np.float32),
    "compress": lambda: fx.CompressorStream(2, SR, -30, 3, 5, 50, dtype=np.float32),
    "reverb": lambda: fx.ReverbStream(2, SR, 0.4, 0.3, dtype=np.float32),
    "pitch_tempo": lambda: fx.PitchTempoStream(2, SR, -2.5, 1.2, dtype=np.float32),
    "wiener": lambda: fx.WienerStream(2, SR, np.full(fx.auto_n_fft(SR) // 2 + 1, 1e-3), dtype=np.float32),
}


@pytest.mark.parametrize("name", sorted(_F32))
def test_float32_streams_follow_float64(name):
    """The editor's float32 arithmetic: float32 out, within 1e-5 of full scale of float64."""
    x = _noise(10000, seed=9, channels=2)
    y = _blocks(_F32[name](), x.astype(np.float32))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, fx.run_stream(_STREAMS[name](2), x), atol=1e-5)


def test_analysers_fed_in_blocks_equal_one_block():
    x = _noise(20000, seed=8, channels=2) * np.linspace(0, 1, 20000)[:, None]
    for make in (lambda: fx.LoudnessMeter(2, SR), lambda: fx.SilenceFinder(2, -40),
                 lambda: fx.NoiseFloor(2, SR), lambda: fx.NoiseProfile(2, SR)):
        one, many = make(), make()
        one.feed(x)
        for i in range(0, len(x), 1234):
            many.feed(x[i: i + 1234])
        np.testing.assert_allclose(np.asarray(many.result(), float), np.asarray(one.result(), float),
                                   rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("call", [
    lambda: fx.highpass(np.zeros(100), SR, 9000),
    lambda: fx.eq(np.zeros(100), SR, 1000, 3, q=0),
    lambda: fx.compress(np.zeros(100), SR, ratio=0.5),
    lambda: fx.reverb(np.zeros(100), SR, amount=2),
    lambda: fx.pitch_shift(np.zeros(100), SR, 40),
    lambda: fx.speed(np.zeros(100), SR, 10),
    lambda: fx.fade(np.zeros(100), SR, -1),
    lambda: fx.denoise(np.zeros(100), SR, method="magic"),
])
def test_bad_parameters_raise_bad_input(call):
    with pytest.raises(BadInputError):
        call()
