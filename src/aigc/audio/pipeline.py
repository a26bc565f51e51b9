"""The audio Pipeline: ``listen`` with a recogniser, ``generate`` / ``speak`` with a synthesiser,
``vocode`` with a neural vocoder (which a synthesiser may use in place of Griffin-Lim).

One class for all architectures (as one model directory holds one of them); the methods that do
not fit the loaded architecture say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc.audio.sequence import (
    centered_clips,
    join_clips,
    parse_digits,
    split_on_silence,
    trim_silence,
)
from aigc.core.artifacts import save_wav
from aigc.core.errors import BadInputError
from aigc.core.pipeline import Pipeline
from aigc.core.seed import make_generator

__all__ = ["AudioPipeline"]


SYNTH_ARCHS = ("mel-diffusion",)
RECOGNIZER_ARCHS = ("recognizer",)
VOCODER_ARCHS = ("vocoder",)
_MEL_FIELDS = ("sample_rate", "n_fft", "hop", "n_mels")


class AudioPipeline(Pipeline):
    """Inference for ``audio`` models. Waves are float32 (T,) numpy arrays at :attr:`sample_rate`."""

    task = "audio"

    @property
    def sample_rate(self) -> int:
        return int(self.objective.config.sample_rate)

    def _need(self, archs: tuple[str, ...], what: str) -> None:
        if self.architecture not in archs:
            raise BadInputError(f"{what} needs a {' or '.join(archs)} model; this one is a "
                                f"{self.architecture!r} model")

    # ------------------------------------------------------------------ recognition
    def classify(self, waves: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, clip_samples) waves -> digit probs (N, K), speaker probs (N, S), features (N, D)."""
        self._need(RECOGNIZER_ARCHS, "classify")
        return self.objective.predict(self.nets, waves)

    def listen(self, wave: np.ndarray, sr: int, *, top_db: float = 40.0, min_gap_s: float = 0.1
               ) -> list[dict[str, Any]]:
        """Split a recording on silence and read each part: a list of ``{"digit", "confidence",
        "speaker", "start_s", "end_s"}`` in time order."""
        from aigc.data.audio import resample

        self._need(RECOGNIZER_ARCHS, "listen")
        wave = resample(np.asarray(wave, dtype=np.float32), sr, self.sample_rate)
        spans = split_on_silence(wave, self.sample_rate, top_db=top_db, min_gap_s=min_gap_s)
        if not spans:
            return []
        clips = torch.from_numpy(centered_clips([wave[s:e] for s, e in spans], self.sample_rate,
                                                self.objective.config.clip_samples))
        out = self.classify(clips)
        cfg = self.objective.config
        result = []
        for (s, e), p, q in zip(spans, out["digit_probs"], out["speaker_probs"]):
            result.append({"digit": cfg.class_names[int(p.argmax())], "confidence": float(p.max()),
                           "speaker": cfg.speaker_names[int(q.argmax())],
                           "start_s": s / self.sample_rate, "end_s": e / self.sample_rate})
        return result

    # ------------------------------------------------------------------ vocoding
    @torch.no_grad()
    def vocode(self, logmel: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """(B, n_mels, frames) natural-log mel power -> (B, length) float waves (a vocoder model)."""
        self._need(VOCODER_ARCHS, "vocode")
        return self.objective.synthesize(self.nets, logmel.to(self.device), length).cpu()

    def load_vocoder(self, vocoder: str | Path | AudioPipeline | None) -> AudioPipeline | None:
        """A vocoder Pipeline (loaded from a directory if a path) whose mels are this model's."""
        if vocoder is None:
            return None
        if not isinstance(vocoder, AudioPipeline):
            from aigc.core.pipeline import load_pipeline

            vocoder = load_pipeline(vocoder, device=str(self.device))
        if not isinstance(vocoder, AudioPipeline) or vocoder.architecture not in VOCODER_ARCHS:
            raise BadInputError(f"--vocoder {vocoder.source}: is not an audio vocoder model (train one with "
                                "aigc train audio --arch vocoder)")
        mine, theirs = self.objective.config, vocoder.objective.config
        diff = [f"{k} {getattr(theirs, k)} vs {getattr(mine, k)}" for k in _MEL_FIELDS
                if getattr(mine, k) != getattr(theirs, k)]
        if diff:
            raise BadInputError(f"--vocoder {vocoder.source}: its mels differ from the synthesiser's "
                                f"({', '.join(diff)}); train a vocoder with the same settings")
        return vocoder

    # ------------------------------------------------------------------ synthesis
    def _speaker_index(self, speaker: int | str | None) -> int:
        cfg = self.objective.config
        if speaker is None:
            return cfg.num_speakers  # the "any speaker" token
        if isinstance(speaker, str) and not speaker.isdigit():
            if speaker not in cfg.speaker_names:
                raise BadInputError(f"unknown speaker {speaker!r}; this model knows {', '.join(cfg.speaker_names)}")
            return cfg.speaker_names.index(speaker)
        index = int(speaker)
        if not 0 <= index < cfg.num_speakers:
            raise BadInputError(f"speaker {index} out of range; use 0-{cfg.num_speakers - 1} or a name")
        return index

    def generate(self, digits: Sequence[int | None], *,
                 speaker: int | str | None | Sequence[int | str | None] = None, seed: int = 0,
                 steps: int = 25, guidance: float = 2.0, batch_size: int = 256,
                 griffin_lim_iters: int = 32, vocoder: str | Path | AudioPipeline | None = None
                 ) -> torch.Tensor:
        """One clip per entry of ``digits`` (None = any digit) by ``speaker`` (a name or index for
        all, one per digit, or None = any): (N, clip_samples) float waves. Same seed, same waves.
        The mels become waves by Griffin-Lim, or by ``vocoder`` (a vocoder model directory or
        Pipeline) when given."""
        from aigc.audio.synth import ddim_sample

        self._need(SYNTH_ARCHS, "generate")
        cfg = self.objective.config
        voc = self.load_vocoder(vocoder)
        if any(d is not None and not 0 <= int(d) < cfg.num_classes for d in digits):
            raise BadInputError(f"digits must be in 0-{cfg.num_classes - 1}, got {list(digits)}")
        if not 0 <= guidance <= 50:
            raise BadInputError(f"guidance must be between 0 (unconditional) and 50, got {guidance:g} "
                                "(1 = no guidance; 1.5-2 measured best on FSDD)")
        d = torch.tensor([cfg.num_classes if x is None else int(x) for x in digits], dtype=torch.long)
        if isinstance(speaker, (list, tuple)):
            if len(speaker) != len(d):
                raise BadInputError(f"{len(speaker)} speakers for {len(d)} digits")
            s = torch.tensor([self._speaker_index(x) for x in speaker], dtype=torch.long)
        else:
            s = torch.full_like(d, self._speaker_index(speaker))
        g = make_generator(seed, self.device)
        waves = []
        for dc, sc in zip(d.split(batch_size), s.split(batch_size)):
            x = ddim_sample(self.nets["denoiser"], self.objective.alphas_cumprod, dc.to(self.device),
                            sc.to(self.device), (cfg.n_mels, cfg.frames), steps=steps, guidance=guidance,
                            generator=g)
            if voc is None:
                waves.append(self.objective.vocode(x.cpu().double(), n_iter=griffin_lim_iters))
            else:
                waves.append(voc.vocode(self.objective.denormalize(x), length=cfg.clip_samples).float())
        return torch.cat(waves)

    def speak(self, text: str, *, speaker: int | str | None = None, seed: int = 0, steps: int = 25,
              guidance: float = 2.0, pause_s: float = 0.25, group_pause_s: float = 0.5,
              crossfade_s: float = 0.015, vocoder: str | Path | AudioPipeline | None = None) -> np.ndarray:
        """Read a digit string aloud (``"4 1 5 2"``, ``"555-0134"``): each digit generated, trimmed of
        silence, peak-normalised, and joined with pauses (longer between groups) and cross-fades."""
        groups = parse_digits(text)
        digits = [d for g in groups for d in g]
        waves = self.generate(digits, speaker=speaker, seed=seed, steps=steps, guidance=guidance, vocoder=vocoder)
        clips = []
        for w in waves.numpy():
            c = trim_silence(w, self.sample_rate)
            clips.append(0.7 * c / max(float(np.abs(c).max()), 1e-6))
        pauses = []
        for gi, g in enumerate(groups):
            pauses += [pause_s] * (len(g) - 1) + ([group_pause_s] if gi < len(groups) - 1 else [])
        return join_clips(clips, self.sample_rate, pauses_s=pauses, crossfade_s=crossfade_s)

    def save(self, wave: np.ndarray | torch.Tensor, path: str | Path, **params: Any) -> Path:
        """Write a (T,) wave as a WAV with the recipe (model id, seed, parameters) embedded."""
        arr = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
        return save_wav(path, arr, self.sample_rate, self.recipe(**params))
