"""Scoring audio models: recogniser accuracy on real clips, and generated digits in the
recogniser's features (IS, Fréchet distance, conditional accuracy) beside the real-data figures.

Shared by ``aigc eval audio``, the demo and ``benchmarks/audio_fsdd.py``.
"""

from __future__ import annotations

from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.metrics.audio import AudioFeatureSpec, audio_distribution_metrics, real_floor

__all__ = ["evaluate_synth", "evaluate_vocoders", "feature_spec", "recognizer_accuracy", "requested_labels"]


def feature_spec(recognizer: Any) -> AudioFeatureSpec:
    """The convention of the recogniser's features, stated with every IS/FD figure."""
    cfg = recognizer.objective.config
    return AudioFeatureSpec(name=f"aigc-audio-{recognizer.architecture}", weights_sha256=recognizer.model_id,
                            sample_rate=cfg.sample_rate, clip_samples=cfg.clip_samples, feature_dim=4 * cfg.channels)


def _check_rates(recognizer: Any, synth: Any = None, data: Any = None) -> None:
    rate = recognizer.sample_rate
    for what, other in (("synthesiser", getattr(synth, "sample_rate", rate)), ("data", getattr(data, "sr", rate))):
        if other != rate:
            raise BadInputError(f"the {what} runs at {other} Hz but the recogniser at {rate} Hz")


def recognizer_accuracy(recognizer: Any, data: Any) -> dict[str, Any]:
    """Digit (and speaker, when labelled) accuracy of a recogniser Pipeline on an AudioSet."""
    _check_rates(recognizer, data=data)
    out = recognizer.classify(_clips(data, recognizer.objective.config.clip_samples))
    report = {"n": len(data), "digit_accuracy": float((out["digit_probs"].argmax(1) == data.labels).double().mean())}
    if data.speakers is not None:
        report["speaker_accuracy"] = float((out["speaker_probs"].argmax(1) == data.speakers).double().mean())
    return report


def requested_labels(n: int, num_classes: int, num_speakers: int) -> tuple[list[int], list[int]]:
    """Balanced requests: digits cycle 0..K-1, speakers cycle within each digit's turns."""
    digits = [i % num_classes for i in range(n)]
    speakers = [(i // num_classes) % num_speakers for i in range(n)]
    return digits, speakers


def evaluate_synth(synth: Any, recognizer: Any, real: Any, *, n: int = 1000, seed: int = 0, steps: int = 25,
                   guidance: float = 2.0, floor_data: Any = None, batch_size: int = 250,
                   vocoder: Any = None) -> dict[str, Any]:
    """Generate ``n`` balanced clips (digit and speaker requested) and score them against ``real``
    (an AudioSet, e.g. the FSDD test split). ``floor_data`` (e.g. FSDD train) gives the real-vs-real
    Fréchet floor on as many clips as ``real`` has. ``vocoder``: a vocoder Pipeline or directory
    in place of Griffin-Lim."""
    _check_rates(recognizer, synth, real)
    clip = recognizer.objective.config.clip_samples
    digits, speakers = requested_labels(n, synth.objective.config.num_classes, synth.objective.config.num_speakers)
    waves, vocoder = [], synth.load_vocoder(vocoder)
    for start in range(0, n, batch_size):
        waves.append(synth.generate(digits[start:start + batch_size], speaker=speakers[start:start + batch_size],
                                    seed=seed + start, steps=steps, guidance=guidance, vocoder=vocoder))
    fake = _fit(torch.cat(waves), clip)
    f_out, r_out = recognizer.classify(fake), recognizer.classify(_clips(real, clip))
    spec = feature_spec(recognizer)
    report = audio_distribution_metrics(f_out["digit_probs"], f_out["features"], r_out["features"],
                                        requested=torch.tensor(digits), spec=spec)
    synth_names = synth.objective.config.speaker_names
    rec_names = recognizer.objective.config.speaker_names
    if tuple(synth_names) == tuple(rec_names):
        report["speaker_accuracy"] = float((f_out["speaker_probs"].argmax(1) == torch.tensor(speakers)).double().mean())
    # IS splits are contiguous chunks: shuffle the real clips (stored digit by digit) first
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))
    real_is = audio_distribution_metrics(r_out["digit_probs"][order], r_out["features"], r_out["features"])
    report["real_inception_score"] = real_is["inception_score"]
    if floor_data is not None:
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(floor_data), generator=g)[:len(real)].tolist()
        other = _clips(floor_data, clip, idx)
        report["real_floor"] = real_floor(r_out["features"], recognizer.classify(other)["features"])
    report.update({"steps": steps, "guidance": guidance, "seed": seed,
                   "vocoder": vocoder.model_id if vocoder is not None else "griffin-lim"})
    return report


@torch.no_grad()
def evaluate_vocoders(vocoder: Any, recognizer: Any, real: Any, *, griffin_lim_iters: int = 32,
                      batch_size: int = 100) -> dict[str, Any]:
    """Each real clip of ``real`` rebuilt from its own log-mel (floored as the synthesiser's) by the
    neural ``vocoder`` and by Griffin-Lim, against the clip: log-mel L1 distance, multi-resolution
    STFT distance (the vocoder's loss), SI-SNR (dB, mean over clips) and the recogniser's digit
    accuracy on the rebuilt clips (beside its accuracy on the real ones)."""
    from aigc.audio.spectral import log_mel_to_wave
    from aigc.audio.vocoder import mel_distance, multi_resolution_stft_loss
    from aigc.metrics.audio import si_snr

    _check_rates(recognizer, vocoder, real)
    cfg, obj = vocoder.objective.config, vocoder.objective
    clips = _clips(real, cfg.clip_samples)
    out: dict[str, dict[str, list]] = {"vocoder": {}, "griffin_lim": {}}
    for start in range(0, len(clips), batch_size):
        ref = clips[start:start + batch_size]
        mel = obj.mel_input(ref)
        rebuilt = {"vocoder": vocoder.vocode(mel, length=cfg.clip_samples).float(),
                   "griffin_lim": log_mel_to_wave(mel.double(), cfg.mel(), n_iter=griffin_lim_iters,
                                                  length=cfg.clip_samples).float()}
        for name, wave in rebuilt.items():
            acc = out[name]
            acc.setdefault("mel", []).append(float(mel_distance(wave, ref, cfg.mel(), cfg.log_floor)) * len(ref))
            acc.setdefault("stft", []).append(float(multi_resolution_stft_loss(wave, ref, cfg.resolutions, cfg.magnitude_floor)) * len(ref))
            acc.setdefault("si_snr", []).extend(si_snr(ref, wave).tolist())
            acc.setdefault("waves", []).append(wave)
    rec_clip = recognizer.objective.config.clip_samples
    report: dict[str, Any] = {"n": len(clips), "griffin_lim_iters": griffin_lim_iters,
                              "vocoder_model_id": vocoder.model_id,
                              "real_digit_accuracy": recognizer_accuracy(recognizer, real)["digit_accuracy"]}
    for name, acc in out.items():
        probs = recognizer.classify(_fit(torch.cat(acc["waves"]), rec_clip))["digit_probs"]
        report[name] = {"mel_l1": sum(acc["mel"]) / len(clips), "multires_stft": sum(acc["stft"]) / len(clips),
                        "si_snr_db": sum(acc["si_snr"]) / len(clips),
                        "digit_accuracy": float((probs.argmax(1) == real.labels).double().mean())}
    return report


def _clips(data: Any, length: int, idx: list[int] | None = None) -> torch.Tensor:
    """Real clips cut as in training: trimmed of silence and centred."""
    from aigc.audio.sequence import centered_clips

    waves = data.waves if idx is None else [data.waves[i] for i in idx]
    return torch.from_numpy(centered_clips(waves, data.sr, length))


def _fit(waves: torch.Tensor, length: int) -> torch.Tensor:
    if waves.shape[1] >= length:
        return waves[:, :length]
    return torch.nn.functional.pad(waves, (0, length - waves.shape[1]))
