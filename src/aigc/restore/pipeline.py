"""Inference for restoration models: ``upscale``, ``denoise``, ``inpaint`` and ``stylize``.

Images are (1, C, H, W) or (C, H, W) float tensors in [0, 1] (grey or RGB); the ``*_file``
methods read any image file (size limits, decompression-bomb guard and mode conversion by
``aigc.data.folder.read_image``), run tiled in bounded memory and write a PNG carrying the model
id and parameters.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from aigc.core.artifacts import save_png
from aigc.core.errors import BadInputError
from aigc.core.pipeline import Pipeline
from aigc.data.color import array_to_tensor, tensor_to_array
from aigc.data.folder import read_image
from aigc.restore.tiling import tiled_apply

__all__ = ["RestorePipeline", "read_input", "MAX_OUTPUT_PIXELS"]

MAX_OUTPUT_PIXELS = 400_000_000  # a 4x upscale of a 12-Mpixel photo is 192 Mpixels (~0.6 GB uint8)
DEFAULT_TILE = 256


def read_input(path: str | os.PathLike, mode: str | None = None) -> torch.Tensor:
    """An image file -> (1, C, H, W) float in [0, 1] (C = 1 for grey files, else 3)."""
    return array_to_tensor(read_image(Path(path), mode))


def _batch(image: torch.Tensor) -> torch.Tensor:
    if not torch.is_tensor(image) or image.ndim not in (3, 4) or (image.ndim == 4 and image.shape[0] != 1):
        raise BadInputError("expected one image as a (C, H, W) or (1, C, H, W) tensor in [0, 1], got "
                            f"{tuple(image.shape) if torch.is_tensor(image) else type(image).__name__}")
    x = image[None] if image.ndim == 3 else image
    if x.shape[1] not in (1, 3):
        raise BadInputError(f"images must have 1 (grey) or 3 (RGB) channels, got {x.shape[1]}")
    return x.float()


class RestorePipeline(Pipeline):
    """A trained restoration model loaded from its model directory (EMA weights when present)."""

    task = "restore"

    @property
    def kind(self) -> str:
        """"sr", "denoise", "inpaint" or "style"."""
        return self.objective.kind

    @property
    def scale(self) -> int:
        return getattr(self.objective, "scale", 1)

    def _need(self, kind: str, what: str) -> None:
        if self.kind != kind:
            raise BadInputError(f"{what} needs a {kind!r} model; this is a {self.kind!r} model "
                                f"({self.architecture}); train one with aigc train restore --task {kind}")

    def _run(self, x: torch.Tensor, *, tile: int, overlap: int | None, out_dtype: torch.dtype) -> torch.Tensor:
        x = _batch(x)
        out_pixels = x.shape[-2] * x.shape[-1] * self.scale ** 2
        if out_pixels > MAX_OUTPUT_PIXELS:
            raise BadInputError(f"output would have {out_pixels:,} pixels, over the limit of "
                                f"{MAX_OUTPUT_PIXELS:,}; crop or downscale the input")
        margin = self.objective.receptive_radius() if overlap is None else overlap
        return tiled_apply(lambda t: self.objective.restore(self.nets, t), x.cpu(), scale=self.scale,
                           tile=tile, overlap=margin, out_dtype=out_dtype, device=self.device)

    def upscale(self, image: torch.Tensor, *, tile: int = DEFAULT_TILE, overlap: int | None = None) -> torch.Tensor:
        """(1, C, h, w) in [0, 1] -> (1, C, h*s, w*s) in [0, 1]; ``tile`` = 0 runs untiled.

        ``overlap`` defaults to the network's receptive-field radius, so tiles join exactly.
        """
        self._need("sr", "upscale")
        return self._run(image, tile=tile, overlap=overlap, out_dtype=torch.float32).clamp_(0, 1)

    def denoise(self, image: torch.Tensor, *, tile: int = DEFAULT_TILE, overlap: int | None = None) -> torch.Tensor:
        """(1, C, H, W) noisy image in [0, 1] -> (1, C, H, W) denoised in [0, 1]."""
        self._need("denoise", "denoise")
        return self._run(image, tile=tile, overlap=overlap, out_dtype=torch.float32).clamp_(0, 1)

    def stylize(self, image: torch.Tensor, *, tile: int = 0, overlap: int | None = None) -> torch.Tensor:
        """(1, C, H, W) content image -> (1, 3, H, W) in the model's style (untiled by default:
        instance norm statistics are per image)."""
        self._need("style", "stylize")
        x = _batch(image)
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return self._run(x, tile=tile, overlap=overlap, out_dtype=torch.float32).clamp_(0, 1)

    @torch.no_grad()
    def inpaint(self, image: torch.Tensor, mask: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """Fill ``mask`` (1, 1, H, W) or (H, W), 1 = missing, in ``image`` (1, C, H, W) in [0, 1].

        Pixels where the mask is 0 are returned unchanged. ``seed`` is recorded for the recipe;
        the partial-convolution model itself is deterministic.
        """
        self._need("inpaint", "inpaint")
        x = _batch(image)
        m = mask.float().reshape(1, 1, *mask.shape[-2:])
        if m.shape[-2:] != x.shape[-2:]:
            raise BadInputError(f"mask size {tuple(m.shape[-2:])} differs from image size {tuple(x.shape[-2:])}")
        m = (m > 0.5).float()
        filled = self.objective.inpaint(self.nets, x.to(self.device), m.to(self.device)).cpu()
        return torch.where(m.bool(), filled.clamp(0, 1), x)

    def recipe(self, **params: Any) -> dict[str, Any]:
        """Metadata stored with every output: model id, architecture, kind and the call's parameters."""
        extra = {"style": self.config["style"]} if "style" in self.config else {}
        return super().recipe(kind=self.kind, **extra, **params)

    def process_file(self, src: str | os.PathLike, out: str | os.PathLike, *, tile: int = DEFAULT_TILE,
                     overlap: int | None = None, **params: Any) -> Path:
        """Upscale / denoise / stylize an image file into a PNG (uint8 output buffer); ``params`` go
        into the recipe (``watermark=True`` marks the PNG, as the CLI does by default)."""
        if self.kind not in ("sr", "denoise", "style"):
            raise BadInputError(f"a {self.kind!r} model does not process whole files this way")
        x = read_input(src)
        if self.kind == "style" and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        result = self._run(x, tile=tile, overlap=overlap, out_dtype=torch.uint8)
        meta = self.recipe(source=Path(src).name, tile=tile, scale=self.scale, **params)
        return save_png(_png(out), result[0].permute(1, 2, 0).numpy(), meta)

    def inpaint_file(self, src: str | os.PathLike, mask: str | os.PathLike, out: str | os.PathLike,
                     *, seed: int = 0, **params: Any) -> Path:
        """Inpaint an image file with a mask file (white / non-zero = fill) into a PNG;
        ``params`` go into the recipe (``watermark=True`` marks the PNG)."""
        x = read_input(src)
        m = read_input(mask, "L")
        result = self.inpaint(x, m, seed=seed)
        meta = self.recipe(source=Path(src).name, mask=Path(mask).name, seed=seed, **params)
        return save_png(_png(out), tensor_to_array(result), meta)


def _png(out: str | os.PathLike) -> Path:
    path = Path(out)
    if path.suffix.lower() != ".png":
        raise BadInputError(f"output {str(path)!r}: outputs are PNG files; give a name ending in .png")
    return path
