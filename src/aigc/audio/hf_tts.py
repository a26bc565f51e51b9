"""Real text-to-speech for users who have weights: a local Hugging Face VITS / MMS-TTS checkpoint
(``config.json`` with ``model_type: vits``, ``model.safetensors``, ``vocab.json``) read aloud through
the same ``speak`` / ``save`` surface as the digit synthesiser. No download; pickled weights
(``pytorch_model.bin`` only) are refused. Needs ``transformers`` (an optional dependency).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc.core.artifacts import save_wav
from aigc.core.errors import BadInputError
from aigc.core.modeldir import model_id

__all__ = ["VitsSpeaker", "is_hf_vits"]


def is_hf_vits(path: str | Path) -> bool:
    """True when ``path`` is a folder holding a Hugging Face VITS ``config.json``."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("model_type") == "vits"
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


class VitsSpeaker:
    """``speak(text, seed=...)`` with a VITS checkpoint: (T,) float32 waves at :attr:`sample_rate`."""

    task = "audio"
    architecture = "hf-vits"

    def __init__(self, path: str | Path, *, device: str | torch.device = "cpu") -> None:
        try:
            from transformers import VitsModel, VitsTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise BadInputError("speaking with a VITS checkpoint needs transformers: pip install transformers") from exc
        path = Path(path)
        if not (path / "model.safetensors").is_file():
            raise BadInputError(f"{path}: no model.safetensors (pickled .bin weights are refused; convert them "
                                f"with transformers' save_pretrained(safe_serialization=True))")
        self.path, self.device = path, torch.device(device)
        self.model = VitsModel.from_pretrained(str(path), use_safetensors=True).to(self.device).eval()
        self.tokenizer = VitsTokenizer.from_pretrained(str(path))
        self.model_id = model_id(path)

    @property
    def sample_rate(self) -> int:
        return int(self.model.config.sampling_rate)

    @torch.no_grad()
    def speak(self, text: str, *, seed: int = 0, speaking_rate: float = 1.0, noise_scale: float | None = None,
              **_: Any) -> np.ndarray:
        """Read ``text`` aloud. VITS draws its latent and duration noise from torch's global RNG,
        so that RNG is seeded with ``seed`` inside a fork (the caller's state is left as it was)."""
        inputs = self.tokenizer(text, return_tensors="pt")
        if inputs["input_ids"].shape[1] == 0:
            raise BadInputError(f"nothing to say: {text!r} has no characters this model's vocabulary knows")
        self.model.speaking_rate = speaking_rate
        if noise_scale is not None:
            self.model.noise_scale = noise_scale
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            wave = self.model(**{k: v.to(self.device) for k, v in inputs.items()}).waveform[0]
        return wave.float().cpu().numpy()

    def recipe(self, **params: Any) -> dict[str, Any]:
        return {"model_id": self.model_id, "task": self.task, "architecture": self.architecture, **params}

    def save(self, wave: np.ndarray, path: str | Path, **params: Any) -> Path:
        peak = float(np.abs(wave).max()) if wave.size else 0.0
        return save_wav(path, wave / peak * 0.9 if peak > 1 else wave, self.sample_rate, self.recipe(**params))
