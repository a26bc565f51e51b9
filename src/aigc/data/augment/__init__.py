"""Composable, seeded image augmentations in torch (flips, crops, affine, colour jitter, cutout,
RandAugment; mixup and CutMix for label-mixing training loops), a ``--augment SPEC`` training
extension for any task whose batches hold images, and generative augmentation
(``aigc augment --generator MODEL``).

    from aigc.data.augment import parse_spec
    aug = parse_spec("hflip,crop:2,affine:10,cutout:6")
    x = aug(images, torch.Generator().manual_seed(0))     # (N, C, H, W) in [0, 1]

kornia was not needed: every op here is a few lines on ``affine_grid``/``grid_sample`` and the
blends of PIL's ImageEnhance, and a seeded per-image draw from one ``torch.Generator`` (kornia
draws from the global RNG) is what exact resume needs.
"""

from __future__ import annotations

from aigc.core.lazy import lazy_exports

__all__ = ["OPS", "Augment", "RandAugment", "parse_spec"]

# light: ``aigc train --help`` imports this package's extension module, which must not import torch
__getattr__, __dir__ = lazy_exports(__name__, {name: "compose" for name in __all__})
