"""Inference for image generators: ``generate`` (with labels / prompts for class-conditional models,
steps and guidance for diffusion); for VAEs ``reconstruct`` and ``interpolate``; for diffusion ``inpaint``."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import torch

from aigc.core.artifacts import make_grid, save_png
from aigc.core.errors import BadInputError
from aigc.core.pipeline import Pipeline
from aigc.core.seed import make_generator
from aigc.data.transforms import resize, to_channels
from aigc.train.objective import Encodes, Inpaints

__all__ = ["ImageGenPipeline", "MAX_IMAGES"]

MAX_IMAGES = 100_000


class ImageGenPipeline(Pipeline):
    """A trained image generator loaded from its model directory (EMA weights when present)."""

    task = "image-gen"
    row_options = ("labels",)  # one class index per image

    @property
    def image_shape(self) -> tuple[int, int, int]:
        m = self.objective.config
        return (m.channels, m.image_size, m.image_size)

    def generate(self, n: int = 64, seed: int = 0, *, batch_size: int = 256,
                 labels: int | list[int] | torch.Tensor | None = None, steps: int | None = None,
                 guidance: float | None = None, eta: float | None = None, progress: bool = False) -> torch.Tensor:
        """``n`` new images (n, C, S, S) in [0, 1]; the same seed gives the same images.

        ``labels`` (one class index or one per image) needs a class-conditional model; ``steps``
        (sampling steps), ``guidance`` (classifier-free guidance scale) and ``eta`` (step noise,
        0 = deterministic DDIM, 1 = DDPM) need a diffusion model.
        """
        if not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
            raise BadInputError(f"n must be an integer between 1 and {MAX_IMAGES}, got {n!r}")
        extra = self._sampling_options(labels=labels, steps=steps, guidance=guidance, eta=eta)
        if progress and "progress" in inspect.signature(self.objective.sample).parameters:
            extra["progress"] = True  # iterative samplers (diffusion) show a bar
        gen = make_generator(seed, self.device)
        return self.objective.sample(self.nets, gen, n=n, batch_size=batch_size, **extra).cpu()

    @property
    def num_classes(self) -> int:
        """Number of classes a conditional model takes (0 = unconditional)."""
        return int(getattr(self.objective.config, "num_classes", 0))

    @property
    def class_names(self) -> list[str]:
        """The training data's class names (index = label), or generic names when it had none."""
        names = (self.config.get("data") or {}).get("class_names") or []
        return list(names) if len(names) == self.num_classes else [str(i) for i in range(self.num_classes)]

    def label_for(self, prompt: str) -> int:
        """The label of class name ``prompt`` (case-insensitive), e.g. "seven" -> 7 for digits."""
        if not self.num_classes:
            raise BadInputError(f"a prompt needs a class-conditional model; {self.architecture!r} here "
                                f"is unconditional (train with --arch cgan, or --cond)")
        names = [n.lower() for n in self.class_names]
        key = prompt.strip().lower()
        if key not in names:
            raise BadInputError(f"unknown class {prompt!r}; this model knows: {', '.join(self.class_names)}")
        return names.index(key)

    def _sampling_options(self, **options: Any) -> dict[str, Any]:
        """Pass only the given options, each checked against what the architecture's sampler takes."""
        accepted = inspect.signature(self.objective.sample).parameters
        extra = {k: v for k, v in options.items() if v is not None}
        for key in extra:
            if key not in accepted:
                what = {"labels": "a class-conditional model", "steps": "a diffusion model", "eta": "a diffusion model",
                        "guidance": "a class-conditional diffusion model"}.get(key, key)
                raise BadInputError(f"{key} needs {what}; architecture {self.architecture!r} does not take it")
        return extra

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor, seed: int = 0, *, steps: int | None = None,
                resample: int = 2, labels: int | list[int] | torch.Tensor | None = None,
                guidance: float | None = None, eta: float | None = None) -> torch.Tensor:
        """Fill the region where ``mask`` is 1 of ``image`` with the diffusion model.

        ``image``: (C, H, W) or (N, C, H, W) in [0, 1]; ``mask``: (H, W), (1, H, W) or (N, 1, H, W),
        1 = fill, 0 = keep. Both are brought to the model's size (the mask by nearest neighbour).
        Returns (N, C, S, S) in [0, 1] whose kept pixels equal the (resized) input.
        """
        if not isinstance(self.objective, Inpaints):
            raise BadInputError(f"inpainting needs a diffusion model; {self.architecture!r} cannot inpaint")
        images = image[None] if image.ndim == 3 else image
        m = mask.float()
        m = m.view(1, 1, *m.shape[-2:]) if m.ndim in (2, 3) else m
        if images.ndim != 4 or m.ndim != 4 or m.shape[1] != 1 or m.shape[-2:] != images.shape[-2:]:
            raise BadInputError(f"image {tuple(image.shape)} and mask {tuple(mask.shape)} do not match: "
                                f"give a (C, H, W) image and an (H, W) mask of the same size")
        x = self.prepare(images)
        s = self.image_shape[1]
        m = (torch.nn.functional.interpolate(m, size=(s, s), mode="nearest") > 0.5).float()
        m = m.expand(x.shape[0], -1, -1, -1).to(self.device)
        gen = make_generator(seed, self.device)
        return self.objective.inpaint(self.nets, x, m, gen, steps=steps, resample=resample,
                                      labels=labels, guidance=guidance, eta=eta).cpu()

    def _need_vae(self, what: str) -> None:
        if not isinstance(self.objective, Encodes):
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
