"""The ``augment`` training extension: ``aigc train <task> --augment SPEC`` augments every image
tensor of each batch before ``training_step``, for any task.

Generic by shape: every 4-D floating tensor (N, C, H, W) in the batch is an image batch. Tensors
in [-1, 1] (any value below 0) are mapped to [0, 1] and back around the ops. All image tensors of
one step get the *same* random draws (one seed per step from the Trainer's generator), so paired
images (input and target of a restoration model) stay aligned: flips and affine act in relative
coordinates, so that holds across sizes too; pixel-sized ops (crop, cutout, RandAugment) are
refused when a batch holds images of different sizes. The Trainer's generator is checkpointed,
so a resumed run draws the same augmentations.

This module is light (no torch at import): ``aigc train --help`` imports it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from aigc.train.extensions import TrainExtension  # light: no torch

__all__ = ["AUGMENT", "AugmentExtension"]


class _AugmentSpec:
    """The object ``aigc.train.extensions.EXTENSIONS["augment"]`` names."""

    title = "augmentation (any task with image batches)"

    def add_args(self, group: Any) -> None:
        group.add_argument("--augment", metavar="SPEC", default=None,
                           help="augment training images, ops applied in order, e.g. "
                                "--augment hflip,crop:2,affine:10:0.1,jitter:0.2,cutout:6 or "
                                "--augment randaugment:2:9 (ops: hflip vflip crop affine jitter cutout randaugment)")

    def options(self, args: argparse.Namespace) -> dict[str, Any] | None:
        spec = getattr(args, "augment", None)
        if not spec:
            return None
        from aigc.data.augment.compose import parse_spec

        parse_spec(spec)  # a bad spec stops here, before anything is written
        return {"spec": spec}

    def build(self, options: Mapping[str, Any]) -> AugmentExtension:
        return AugmentExtension(str(options["spec"]))


AUGMENT = _AugmentSpec()


class AugmentExtension(TrainExtension):
    """Applies :func:`~aigc.data.augment.parse_spec`'s pipeline in ``transform_batch``."""

    name = "augment"

    def __init__(self, spec: str) -> None:
        from aigc.data.augment.compose import parse_spec

        self.augment = parse_spec(spec)

    def transform_batch(self, trainer: Any, batch: dict[str, Any], ctx: Any) -> dict[str, Any]:
        import torch

        from aigc.core.errors import BadInputError
        from aigc.data.augment.compose import GEOMETRIC_PIXEL_OPS

        keys = [k for k, v in batch.items() if torch.is_tensor(v) and v.ndim == 4 and v.is_floating_point()]
        if not keys:
            raise BadInputError(f"--augment needs image batches, but this task's batches hold no (N, C, H, W) "
                                f"float tensor (keys: {sorted(batch)}); drop --augment")
        sizes = {tuple(batch[k].shape[-2:]) for k in keys}
        pixel_ops = sorted(set(self.augment.names) & GEOMETRIC_PIXEL_OPS)
        if len(sizes) > 1 and pixel_ops:
            raise BadInputError(f"--augment {self.augment.spec!r}: {', '.join(pixel_ops)} would misalign this "
                                f"task's images of sizes {sorted(sizes)}; use hflip, vflip, affine or jitter")
        gen = ctx.generator
        seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=gen.device).item())
        out = dict(batch)
        for k in keys:
            x = batch[k]
            g = torch.Generator(device=x.device).manual_seed(seed)
            signed = bool((x.detach().amin() < 0).item())
            y = self.augment(((x + 1) * 0.5).clamp(0, 1) if signed else x, g)
            out[k] = y * 2 - 1 if signed else y
        return out

    def describe(self) -> dict[str, Any]:
        return {"spec": self.augment.spec, "ops": self.augment.names}
