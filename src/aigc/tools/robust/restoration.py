"""Robustness of restoration models (denoisers, super-resolution) to inputs they were not trained on.

Each corruption is applied to the clean image (a denoiser's input) or to its bicubic low-resolution
version (a super-resolution model's input), the model restores it, and PSNR / SSIM against the clean
image are reported beside those of the corrupted input itself (a denoiser) or of bicubic upscaling
(super-resolution), so a row says whether the model still helps:

- ``noise:S`` additive white Gaussian noise of sigma ``S`` on the 0-255 scale, not clipped (the
  DnCNN protocol), seeded;
- ``jpeg:Q`` Pillow JPEG at quality ``Q`` (4:2:0 for colour, Pillow's default);
- ``blur:S`` Gaussian blur of sigma ``S`` pixels (``scipy.ndimage.gaussian_filter``, reflect border).

A model is a restoration model when its objective has :class:`Restores` (``kind`` and
``restore(nets, x)``) and its kind has a ground truth (``denoise``, ``sr``); nothing here knows the
task that made it. Super-resolution is measured on the Y channel with the border shaved by the
scale (the SRCNN/EDSR convention), denoising on all channels.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc.core.errors import BadInputError
from aigc.core.seed import make_generator
from aigc.train.objective import Restores

__all__ = [
    "MEASURED_KINDS",
    "corrupt",
    "format_table",
    "load_restorer",
    "parse_corruptions",
    "read_images",
    "restoration_table",
    "save_strip",
]

MEASURED_KINDS = ("denoise", "sr")  # kinds whose output has a clean reference to measure against
_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def parse_corruptions(noise: Sequence[float], jpeg: Sequence[float], blur: Sequence[float]) -> list[tuple[str, float]]:
    """``[("none", 0), ("noise", s), ..., ("jpeg", q), ..., ("blur", s), ...]`` with checked values."""
    for q in jpeg:
        if not 1 <= q <= 95 or q != int(q):
            raise BadInputError(f"--jpeg: quality must be a whole number in 1..95, got {q}")
    for name, values in (("--noise", noise), ("--blur", blur)):
        if any(v <= 0 for v in values):
            raise BadInputError(f"{name}: levels must be > 0, got {list(values)}")
    return ([("none", 0.0)] + [("noise", float(s)) for s in noise] + [("jpeg", float(q)) for q in jpeg]
            + [("blur", float(s)) for s in blur])


def _jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    from PIL import Image

    out = []
    for img in x:
        arr = (img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        buf = io.BytesIO()
        Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).save(buf, format="JPEG", quality=int(quality))
        dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
        out.append(torch.from_numpy(dec.reshape(arr.shape).copy()).permute(2, 0, 1).float() / 255)
    return torch.stack(out)


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """One corruption of (N, C, H, W) images in [0, 1] (module docstring)."""
    if kind == "none":
        return x.clone()
    if kind == "noise":
        return x + torch.randn(x.shape, generator=generator, dtype=x.dtype) * (level / 255.0)
    if kind == "jpeg":
        return _jpeg(x, int(level))
    if kind == "blur":
        from scipy.ndimage import gaussian_filter

        return torch.from_numpy(gaussian_filter(x.double().numpy(), sigma=(0, 0, level, level), mode="reflect")).to(x.dtype)
    raise BadInputError(f"unknown corruption {kind!r}; use noise, jpeg or blur")


def load_restorer(model_dir: str, device: str = "cpu", *, pipe: Any = None) -> Any:
    """The model's Pipeline, when its objective restores images with a clean reference (``pipe``:
    the model already loaded)."""
    import aigc

    pipe = pipe if pipe is not None else aigc.load(model_dir, device=device)
    if not isinstance(pipe.objective, Restores) or pipe.objective.kind not in MEASURED_KINDS:
        raise BadInputError(f"{model_dir}: a {pipe.task} {pipe.architecture!r} model is not a restoration model "
                            f"with a ground truth (its objective must restore images of kind {MEASURED_KINDS})")
    for net in pipe.nets.values():
        net.eval()
    return pipe


def _folder(spec: str) -> Path:
    from aigc.core.paths import data_dir

    path = Path(spec.removeprefix("folder:")).expanduser()
    if not path.exists() and not path.is_absolute():
        path = data_dir(spec) / spec  # a staged set, e.g. denoise-benchmarks/BSD68
    if not path.exists():
        raise BadInputError(f"--data {spec!r}: no such image file or folder (give a folder of clean test "
                            "images, or a staged set such as denoise-benchmarks/BSD68 under AIGC_DATA_DIR)")
    return path


def read_images(spec: str, *, channels: int, n: int, crop: int, multiple: int = 1) -> list[torch.Tensor]:
    """Up to ``n`` clean images (sorted files) as (1, C, H, W) in [0, 1], centre-cropped to at most
    ``crop`` pixels a side and to a multiple of ``multiple`` (the SR scale)."""
    from aigc.data.folder import read_image

    path = _folder(spec)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix.lower() in _SUFFIXES)
    if not files:
        raise BadInputError(f"--data {spec!r}: no images ({', '.join(sorted(_SUFFIXES))}) in {path}")
    out = []
    for f in files[:n]:
        arr = read_image(f, "L" if channels == 1 else "RGB")
        t = torch.from_numpy(arr.reshape(arr.shape[0], arr.shape[1], -1).copy()).permute(2, 0, 1).float() / 255
        h, w = (min(s, crop) // multiple * multiple for s in t.shape[-2:])
        if h == 0 or w == 0:
            raise BadInputError(f"{f}: {arr.shape[1]}x{arr.shape[0]} is smaller than the model's scale {multiple}")
        top, left = (t.shape[-2] - h) // 2, (t.shape[-1] - w) // 2
        out.append(t[None, :, top:top + h, left:left + w].contiguous())
    return out


def _downscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """The SR degradation: PIL bicubic on uint8, as the restoration task trains with."""
    from PIL import Image

    arr = (x[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    small = np.asarray(img.resize((img.width // scale, img.height // scale), Image.BICUBIC))
    return torch.from_numpy(small.reshape(small.shape[0], small.shape[1], -1).copy()).permute(2, 0, 1)[None].float() / 255


def _upscale_bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    return torch.nn.functional.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)


def _scale_of(pipe: Any, channels: int) -> int:
    """The model's scale, measured: output side / input side on a 16-px probe."""
    with torch.no_grad():
        out = pipe.objective.restore(pipe.nets, torch.full((1, channels, 16, 16), 0.5, device=pipe.device))
    return max(1, out.shape[-1] // 16)


def _score(pred: list[torch.Tensor], clean: list[torch.Tensor], sr: bool, scale: int) -> tuple[float, float]:
    from aigc.metrics import psnr, ssim

    opts = {"y_channel": sr and clean[0].shape[1] == 3, "shave": scale if sr else 0}
    p = [float(psnr(a.clamp(0, 1), b, **opts)) for a, b in zip(pred, clean)]
    s = [float(ssim(a.clamp(0, 1), b, **opts)) for a, b in zip(pred, clean)]
    return float(np.mean(p)), float(np.mean(s))


@torch.no_grad()
def restoration_table(pipe: Any, images: list[torch.Tensor], corruptions: Sequence[tuple[str, float]], *,
                      seed: int = 0) -> tuple[dict[str, Any], dict[str, list[torch.Tensor]]]:
    """The report (one row per corruption: PSNR and SSIM of the model and of its baseline) and, per
    corruption, the corrupted inputs and restored outputs of the first image (for the strip)."""
    channels = images[0].shape[1]
    scale = _scale_of(pipe, channels)
    sr = pipe.objective.kind == "sr"
    rows, strip = [], {}
    for kind, level in corruptions:
        g = make_generator(seed)  # the same noise draw for every model audited with this seed
        inputs = [corrupt(_downscale(x, scale) if sr else x, kind, level, g) for x in images]
        outputs = [pipe.objective.restore(pipe.nets, x.to(pipe.device)).float().cpu() for x in inputs]
        base = [_upscale_bicubic(x.clamp(0, 1), scale) for x in inputs] if sr else inputs
        psnr_m, ssim_m = _score(outputs, images, sr, scale)
        psnr_b, ssim_b = _score(base, images, sr, scale)
        rows.append({"corruption": kind, "level": level, "psnr": psnr_m, "ssim": ssim_m,
                     "baseline_psnr": psnr_b, "baseline_ssim": ssim_b})
        strip[f"{kind}:{level:g}"] = [inputs[0], outputs[0].clamp(0, 1)]
    model = pipe.config.get("model", {})
    report = {"model_id": pipe.model_id, "kind": pipe.objective.kind, "scale": scale, "n": len(images),
              "seed": seed, "trained_sigma": model.get("sigma"), "trained_sigma_max": model.get("sigma_max"),
              "baseline": "bicubic upscaling" if sr else "the corrupted input", "metric_convention":
              f"Y channel, {scale} px border shaved" if sr and channels == 3 else "all channels",
              "rows": rows}
    return report, strip


def format_table(report: Mapping[str, Any]) -> str:
    """The rows as an aligned text table."""
    lines = [f"{report['kind']} model {report['model_id']} on {report['n']} image(s); baseline: {report['baseline']}",
             f"{'corruption':<12}{'PSNR':>8}{'SSIM':>8}{'base PSNR':>11}{'base SSIM':>11}"]
    for r in report["rows"]:
        name = r["corruption"] if r["corruption"] == "none" else f"{r['corruption']}:{r['level']:g}"
        lines.append(f"{name:<12}{r['psnr']:>8.2f}{r['ssim']:>8.4f}{r['baseline_psnr']:>11.2f}{r['baseline_ssim']:>11.4f}")
    return "\n".join(lines)


def save_strip(strip: Mapping[str, list[torch.Tensor]], path: str | Path, recipe: dict | None = None) -> Path:
    """One column per corruption: the corrupted input (top, enlarged to the output size) over the
    model's output (bottom)."""
    from aigc.core.artifacts import make_grid, save_png

    tops, bottoms = [], []
    for x, y in strip.values():
        tops.append(torch.nn.functional.interpolate(x.clamp(0, 1), size=y.shape[-2:], mode="nearest")[0])
        bottoms.append(y[0])
    return save_png(path, make_grid(torch.stack(tops + bottoms), nrow=len(tops), padding=2), recipe, scale_to=512)
