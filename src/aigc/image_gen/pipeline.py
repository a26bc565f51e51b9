"""Inference for image generators: ``generate``; for VAEs also ``reconstruct`` and ``interpolate``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from aigc.core.artifacts import make_grid, save_png
from aigc.core.errors import BadInputError
from aigc.core.modeldir import model_id
from aigc.core.pipeline import load_objective
from aigc.core.seed import make_generator
from aigc.data.transforms import resize, to_channels

__all__ = ["ImageGenPipeline", "MAX_IMAGES"]

MAX_IMAGES = 100_000


class ImageGenPipeline:
    """A trained image generator loaded from its model directory (EMA weights when present)."""

    task = "image-gen"

    def __init__(self, objective: Any, nets: dict, config: dict, device: torch.device, model_id: str) -> None:
        self.objective, self.nets, self.config = objective, nets, config
        self.device, self.model_id = device, model_id

    @classmethod
    def from_dir(cls, path: str | os.PathLike, *, device: torch.device) -> "ImageGenPipeline":
        objective, nets, config = load_objective(path, device)
        return cls(objective, nets, config, device, model_id(path))

    @property
    def architecture(self) -> str:
        return self.config["architecture"]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        m = self.objective.config
        return (m.channels, m.image_size, m.image_size)

    def generate(self, n: int = 64, seed: int = 0, *, batch_size: int = 256) -> torch.Tensor:
        """``n`` new images (n, C, S, S) in [0, 1]; the same seed gives the same images."""
        if not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
            raise BadInputError(f"n must be an integer between 1 and {MAX_IMAGES}, got {n!r}")
        gen = make_generator(seed, self.device)
        return self.objective.sample(self.nets, gen, n=n, batch_size=batch_size).cpu()

    def _need_vae(self, what: str) -> None:
        if not hasattr(self.objective, "encode"):
            raise BadInputError(f"{what} needs an encoder; architecture {self.architecture!r} has none")

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Convert user images (N, C, H, W) in [0, 1] to this model's channels and size."""
        c, s, _ = self.image_shape
        return resize(to_channels(images.float(), c), s).to(self.device)

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Encode then decode (N, C, H, W) images in [0, 1]; returns (N, C, S, S) in [0, 1]."""
        self._need_vae("reconstruct")
        z = self.objective.encode(self.nets, self.prepare(images))
        return self.objective.decode(self.nets, z).cpu()

    def interpolate(self, a: torch.Tensor, b: torch.Tensor, steps: int = 8) -> torch.Tensor:
        """Decode ``steps`` points on the line between the latent means of images ``a`` and ``b``.

        ``a``, ``b``: (C, H, W) in [0, 1]. Returns (steps, C, S, S).
        """
        self._need_vae("interpolate")
        if not 2 <= steps <= 256:
            raise BadInputError(f"steps must be between 2 and 256, got {steps}")
        z = self.objective.encode(self.nets, self.prepare(torch.stack([a, b])))
        t = torch.linspace(0, 1, steps, device=z.device).unsqueeze(1)
        return self.objective.decode(self.nets, (1 - t) * z[0] + t * z[1]).cpu()

    def recipe(self, **params: Any) -> dict[str, Any]:
        """Metadata stored with every output: model id, architecture and the call's parameters."""
        return {"model_id": self.model_id, "task": self.task, "architecture": self.architecture, **params}

    def save(self, images: torch.Tensor, out: str | os.PathLike, **params: Any) -> list[Path]:
        """Save as one PNG grid (``out`` ends in .png) or as one PNG per image in folder ``out``."""
        out = Path(out)
        meta = self.recipe(**params)
        if out.suffix.lower() == ".png":
            return [save_png(out, make_grid(images), meta, scale_to=256)]
        if out.suffix:
            raise BadInputError(f"output {str(out)!r}: give a .png file (grid) or a folder")
        out.mkdir(parents=True, exist_ok=True)
        return [save_png(out / f"{i:05d}.png", make_grid(img[None], padding=0), {**meta, "index": i})
                for i, img in enumerate(images)]
