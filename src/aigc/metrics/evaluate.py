"""Whole evaluations behind ``aigc eval``: images (distribution metrics), restore, text.

Each returns a JSON-safe report dict; :func:`format_report` renders it as a readable table.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import torch

from aigc.core.errors import BadInputError
from aigc.metrics.features import FeatureExtractor

__all__ = ["evaluate_images", "evaluate_restore", "evaluate_text", "format_report", "subsample"]


def subsample(images: torch.Tensor, n: int | None, seed: int,
              labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A seeded random subset of at most ``n`` rows of (N, ...) images (and their labels)."""
    if n is None or n >= images.shape[0]:
        return images, labels
    idx = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
    return images[idx], None if labels is None else labels[idx]


def _check_images(images: torch.Tensor, what: str) -> None:
    if images.ndim != 4 or images.shape[0] < 2:
        raise BadInputError(f"{what}: need at least 2 images (N, C, H, W), got shape {tuple(images.shape)}")
    if not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise BadInputError(f"{what}: pixel values must be finite and in [0, 1]")


def evaluate_images(real: torch.Tensor, fake: torch.Tensor, extractor: FeatureExtractor, *,
                    fake_labels: torch.Tensor | None = None, kid_subsets: int = 100,
                    kid_subset_size: int = 1000, pr_k: int = 3, seed: int = 0) -> dict[str, Any]:
    """FID, KID, precision/recall (and IS, class coverage, conditional accuracy when the features
    have a classifier) of (N, C, H, W) ``fake`` against ``real`` images in [0, 1]. Real images of
    another size are first resized to the fake ones' (``real_resized_to`` in the report)."""
    from aigc.metrics import class_coverage, conditional_accuracy, inception_score
    from aigc.metrics import frechet_distance, kernel_inception_distance, precision_recall

    _check_images(real, "real images")
    _check_images(fake, "fake images")
    resized = None
    if real.shape[-2:] != fake.shape[-2:]:
        # the same resampling path for both (real -> the fake size -> the extractor's size): resizing
        # alone moves FID a lot (MNIST train at 32 px vs test at 28: 85.7), Parmar et al. 2022
        from aigc.data.transforms import resize

        real, resized = resize(real, tuple(fake.shape[-2:])), list(fake.shape[-2:])
    fr, ff = extractor.features(real), extractor.features(fake)
    kid_mean, kid_std = kernel_inception_distance(fr, ff, subsets=kid_subsets, subset_size=kid_subset_size,
                                                  generator=torch.Generator().manual_seed(seed))
    precision, recall = precision_recall(fr, ff, k=pr_k)
    report: dict[str, Any] = {
        "features": extractor.describe(), "n_real": len(fr), "n_fake": len(ff),
        "fid": frechet_distance(fr, ff),
        "kid": {"mean": kid_mean, "std": kid_std, "subsets": kid_subsets,
                "subset_size": min(kid_subset_size, len(fr), len(ff))},
        "precision": precision, "recall": recall, "pr_k": pr_k,
    }
    if resized is not None:
        report["real_resized_to"] = resized
    if extractor.has_classifier:
        probs = extractor.probs(fake)
        is_mean, is_std = inception_score(probs, splits=min(10, len(probs)))
        report["inception_score"] = {"mean": is_mean, "std": is_std}
        report["class_coverage"] = class_coverage(probs.argmax(1), probs.shape[1])
        if fake_labels is not None:
            report["conditional_accuracy"] = conditional_accuracy(probs.argmax(1), fake_labels)
    return report


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def _image_files(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        raise BadInputError(f"{root}: not a folder of images")
    files = {p.relative_to(root).with_suffix("").as_posix(): p for p in sorted(root.rglob("*"))
             if p.suffix.lower() in _IMAGE_SUFFIXES and not p.name.startswith(".")}
    if not files:
        raise BadInputError(f"{root}: no image files ({', '.join(sorted(_IMAGE_SUFFIXES))})")
    return files


def _read(path: Path, mode: str) -> torch.Tensor:
    from aigc.data.folder import read_image

    arr = torch.from_numpy(read_image(path, mode).copy()).double().div(255)
    return arr[None, None] if arr.ndim == 2 else arr.permute(2, 0, 1)[None]


def _pair_images(gt_path: Path, pred_path: Path, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Read a pair as (1, C, H, W); the GT is mod-cropped to the prediction's size when they
    differ by less than ``scale`` pixels (GT sizes not divisible by the SR scale)."""
    from PIL import Image

    with Image.open(gt_path) as im:
        mode = "L" if im.mode in ("1", "L", "I;16", "I", "LA") else "RGB"
    gt, pred = _read(gt_path, mode), _read(pred_path, mode)
    dh, dw = gt.shape[-2] - pred.shape[-2], gt.shape[-1] - pred.shape[-1]
    if not (0 <= dh < max(scale, 1) and 0 <= dw < max(scale, 1)):
        raise BadInputError(f"{pred_path}: size {tuple(pred.shape[-2:])} does not match ground truth "
                            f"{gt_path} {tuple(gt.shape[-2:])}")
    return gt[..., :pred.shape[-2], :pred.shape[-1]], pred


def evaluate_restore(gt_dir: str | Path, pred_dir: str | Path, scale: int = 1) -> dict[str, Any]:
    """Y-channel (BT.601, border shaved by ``scale``) and RGB PSNR/SSIM over files paired by name."""
    from aigc.metrics.restore_psnr import PSNR
    from aigc.metrics.restore_ssim import SSIM

    if scale < 1:
        raise BadInputError(f"--scale must be >= 1, got {scale}")
    gt_files, pred_files = _image_files(Path(gt_dir)), _image_files(Path(pred_dir))
    missing = sorted(set(gt_files) - set(pred_files))
    if missing:
        raise BadInputError(f"{pred_dir}: no prediction for {len(missing)} ground-truth image(s), "
                            f"e.g. {missing[:3]}")
    shave = scale if scale > 1 else 0
    metrics = {"psnr_y": PSNR(y_channel=True, shave=shave), "ssim_y": SSIM(y_channel=True, shave=shave),
               "psnr_rgb": PSNR(shave=shave), "ssim_rgb": SSIM(shave=shave)}
    for key in sorted(gt_files):
        gt, pred = _pair_images(gt_files[key], pred_files[key], scale)
        for metric in metrics.values():
            metric.update(pred.clamp(0, 1), gt)
    return {"n_images": len(gt_files), "scale": scale, "shave": shave,
            "convention": "Y = BT.601 luma (16 + 65.481 R + 128.553 G + 24.966 B) of RGB in [0, 1]; "
                          "per-image values averaged",
            **{name: m.compute() for name, m in metrics.items()}}


def evaluate_text(hyps: Sequence[str], refs: Sequence[Sequence[str]] | None, *,
                  orders: Sequence[int] = (1, 2, 3), self_bleu_max: int = 500, seed: int = 0) -> dict[str, Any]:
    """BLEU (when ``refs``: a list of reference streams paired with ``hyps``), self-BLEU, distinct-n."""
    from aigc.metrics import bleu, distinct_n, self_bleu

    if not hyps:
        raise BadInputError("no hypotheses to evaluate")
    report: dict[str, Any] = {"n_hyps": len(hyps)}
    if refs:
        report["bleu"] = bleu(hyps, [list(r) for r in refs])
        report["n_ref_streams"] = len(refs)
    if len(hyps) >= 2:
        report["self_bleu"] = self_bleu(hyps, max_texts=self_bleu_max,
                                        generator=torch.Generator().manual_seed(seed))
    for n in orders:
        report[f"distinct_{n}"] = distinct_n(hyps, n)
    return report


def _rows(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(obj, dict):
        return [row for k, v in obj.items() for row in _rows(v, f"{prefix}{k}" if not prefix else f"{prefix}.{k}")]
    if isinstance(obj, float):
        return [(prefix, "inf" if math.isinf(obj) else f"{obj:.6g}")]
    return [(prefix, str(obj))]


def format_report(report: dict[str, Any]) -> str:
    """A two-column, human-readable table of a (nested) report."""
    rows = _rows(report)
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
