"""Inference for video models: ``predict`` future frames (ConvLSTM, SimVP), ``interpolate`` a clip
(interp), ``generate`` new clips (diffusion); ``load_clip`` reads a user's GIF/MP4/folder in the
model's frame format, ``save`` writes GIF/MP4/WebM or PNG frames with the recipe embedded and
``save_sheet`` a context | truth | prediction PNG."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

import torch

from aigc.core.errors import BadInputError
from aigc.core.pipeline import Pipeline
from aigc.core.seed import make_generator
from aigc.data.transforms import resize, to_channels
from aigc.data.video import read_video
from aigc.video.artifacts import save_contact_sheet, save_video
from aigc.video.defaults import ETA, GUIDANCE

__all__ = ["VideoPipeline", "MAX_FUTURE", "MAX_CLIPS", "FACTORS"]

MAX_FUTURE = 1000
MAX_CLIPS = 1000
FACTORS = (2, 4, 8)


def _file_sha256(path: str | Path) -> str:
    path = Path(path)
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.iterdir() if p.is_file()):
            h.update(f.name.encode() + f.read_bytes())
        return h.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


class VideoPipeline(Pipeline):
    """A trained video model (prediction, interpolation, generation or the clip classifier) loaded
    from its model directory; each method checks the model is of its kind."""

    task = "video"

    @property
    def kind(self) -> str:
        """``"prediction"``, ``"interpolation"``, ``"generation"`` or ``"classification"``."""
        return self.objective.kind

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        cfg = self.objective.config
        return (cfg.channels, cfg.image_size, cfg.image_size)

    @property
    def context_frames(self) -> int:
        return int(getattr(self.objective.config, "context", 2))

    def load_clip(self, path: str | Path) -> tuple[torch.Tensor, float]:
        """A GIF/MP4/WebM or folder of frames as (T, C, S, S) floats in [0, 1] in the model's
        channels and size (converted to grey / resized when they differ), and its frame rate."""
        video = read_video(path)
        frames = torch.from_numpy(video.frames).permute(0, 3, 1, 2).float().div(255.0)
        c, s, _ = self.frame_shape
        frames = resize(to_channels(frames, c), s)
        return frames, video.fps

    def _need(self, kind: str) -> None:
        if self.kind != kind:
            other = {"prediction": "`aigc predict`", "interpolation": "`aigc interpolate`",
                     "generation": "`aigc generate`", "classification": "`aigc eval video --features`"}[self.kind]
            raise BadInputError(f"{self.architecture!r} is a video {self.kind} model; use it with {other}")

    def _batch(self, clip: torch.Tensor) -> torch.Tensor:
        if clip.ndim == 4:
            clip = clip[None]
        if clip.ndim != 5 or tuple(clip.shape[2:]) != self.frame_shape:
            raise BadInputError(f"expected frames (N, T, {', '.join(map(str, self.frame_shape))}) or "
                                f"(T, ...), got {tuple(clip.shape)}")
        return clip.float().to(self.device)

    def predict(self, context: torch.Tensor, frames: int = 10) -> torch.Tensor:
        """The ``frames`` frames after ``context`` (T, C, H, W) or (N, T, C, H, W), in [0, 1];
        the last ``context_frames`` of the context are used. Deterministic."""
        self._need("prediction")
        if not isinstance(frames, int) or not 1 <= frames <= MAX_FUTURE:
            raise BadInputError(f"--frames must be between 1 and {MAX_FUTURE}, got {frames!r}")
        batch = self._batch(context)
        need = self.context_frames
        if batch.shape[1] < need:
            raise BadInputError(f"this model reads {need} context frames; the clip has {batch.shape[1]}")
        out = self.objective.predict(self.nets, batch[:, -need:], frames).cpu()
        return out[0] if context.ndim == 4 else out

    def interpolate(self, clip: torch.Tensor, factor: int = 2) -> torch.Tensor:
        """Insert ``factor - 1`` predicted frames between each pair of (T, C, H, W) frames
        (factor 2, 4 or 8: middles of middles); returns ((T - 1) * factor + 1, C, H, W)."""
        self._need("interpolation")
        if factor not in FACTORS:
            raise BadInputError(f"--factor must be one of {FACTORS}, got {factor!r}")
        frames = self._batch(clip)[0]
        if frames.shape[0] < 2:
            raise BadInputError(f"interpolation needs at least 2 frames, got {frames.shape[0]}")
        for _ in range(factor.bit_length() - 1):
            mids = self.objective.middle(self.nets, frames[:-1], frames[1:])
            out = torch.empty(2 * frames.shape[0] - 1, *frames.shape[1:], device=frames.device)
            out[0::2], out[1::2] = frames, mids
            frames = out
        return frames.cpu()

    @property
    def class_names(self) -> list[str]:
        names = (self.config.get("data") or {}).get("class_names") or []
        n = int(getattr(self.objective.config, "num_classes", 0))
        return list(names) if len(names) == n else [str(i) for i in range(n)]

    def label_for(self, prompt: str) -> int:
        """The class index of ``prompt``: a class name ("seven") or its number ("7")."""
        names = [n.lower() for n in self.class_names]
        if not names:
            raise BadInputError(f"{self.architecture!r} here is unconditional; it takes no prompt")
        key = prompt.strip().lower()
        if key.isdigit() and int(key) < len(names):
            return int(key)
        if key not in names:
            raise BadInputError(f"unknown class {prompt!r}; this model knows: {', '.join(self.class_names)}")
        return names.index(key)

    def generate(self, n: int = 1, seed: int = 0, *, labels: int | list[int] | None = None,
                 frames: int | None = None, steps: int = 30, guidance: float = GUIDANCE,
                 eta: float = ETA) -> torch.Tensor:
        """``n`` new clips (n, frames, C, S, S) in [0, 1] (frames default: the trained length); the
        same seed gives the same clips. ``labels``: one class or one per clip (None = any class)."""
        self._need("generation")
        if not isinstance(n, int) or not 1 <= n <= MAX_CLIPS:
            raise BadInputError(f"n must be between 1 and {MAX_CLIPS}, got {n!r}")
        frames = self.objective.config.frames if frames is None else frames
        if not isinstance(frames, int) or not 2 <= frames <= MAX_FUTURE:
            raise BadInputError(f"--frames must be between 2 and {MAX_FUTURE}, got {frames!r}")
        lab = None
        if labels is not None:
            lab = torch.as_tensor([labels] * n if isinstance(labels, int) else list(labels), dtype=torch.long)
            if lab.numel() != n or lab.min() < 0 or lab.max() >= len(self.class_names):
                raise BadInputError(f"labels must be {n} class indices below {len(self.class_names)}")
            lab = lab.to(self.device)
        gen = make_generator(seed, self.device)
        return self.objective.generate(self.nets, gen, n=n, labels=lab, frames=frames, steps=steps,
                                       guidance=guidance, eta=eta).cpu()

    def save(self, clip: torch.Tensor, path: str | Path, *, fps: float = 10.0, scale: int = 1,
             **params: Any) -> Path:
        """Write (T, C, H, W) frames as GIF/MP4/WebM or a PNG-frame folder (a path without a
        suffix) with ``recipe(**params)`` embedded."""
        return save_video(path, clip, self.recipe(**params, fps=fps), fps=fps, scale=scale)

    def save_sheet(self, path: str | Path, context: torch.Tensor, truth: torch.Tensor | None,
                   prediction: torch.Tensor, **params: Any) -> Path:
        """A contact-sheet PNG: context | truth on the first row, the prediction below the truth."""
        preds: Mapping[str, torch.Tensor] = {self.architecture: prediction}
        return save_contact_sheet(path, context, truth, preds, self.recipe(**params))

    def input_recipe(self, path: str | Path) -> dict[str, str]:
        """What a recipe records of an input clip: its name and sha256."""
        return {"input": Path(path).name, "input_sha256": _file_sha256(path)}
