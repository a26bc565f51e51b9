"""The demo's restoration part: a small DnCNN (Zhang et al. 2017, without batch norm) learns to
remove Gaussian noise (sigma 25) from photos that ship with scikit-image, then cleans one it never
saw; the picture shows noisy | restored | clean with PSNR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run"]

TRAIN_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "coins", "rocket")
TEST_IMAGE = "moon"
STEPS = 300
SIGMA = 25.0


def _grey(name: str) -> np.ndarray:
    from skimage import data
    from skimage.color import rgb2gray

    img = getattr(data, name)()
    if img.ndim == 3:
        img = (rgb2gray(img) * 255).round()
    return np.asarray(img, dtype=np.uint8)


def run(out_dir: Path, seed: int = 0, *, scale: float = 1.0) -> dict[str, Any]:
    """Train the denoiser into ``out_dir/dncnn`` and write ``denoise.png``; returns the report part."""
    import torch
    from PIL import Image

    import aigc
    from aigc.core.artifacts import save_png
    from aigc.metrics import psnr
    from aigc.restore.train import RestoreSettings, train
    from aigc.train import TrainConfig

    out_dir = Path(out_dir)
    photos = out_dir / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for name in TRAIN_IMAGES:
        Image.fromarray(_grey(name)).save(photos / f"{name}.png")
    settings = RestoreSettings(kind="denoise", arch="dncnn", data=f"folder:{photos}", channels=1, depth=8,
                               features=32, batch_norm=False, sigma=SIGMA, patch=40, patches=4096)
    steps = max(2, int(STEPS * scale))
    summary = train(settings, TrainConfig(steps=steps, batch_size=16, lr=1e-3, schedule="cosine", seed=seed,
                                          progress=False, checkpoint_every=steps, log_every=20), out_dir / "dncnn")
    pipe = aigc.load(str(out_dir / "dncnn"), device="cpu")
    clean = torch.from_numpy(_grey(TEST_IMAGE)[128:384, 128:384].copy()).float().div(255)[None, None]
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed)) * SIGMA / 255
    noisy = (clean + noise).clamp(0, 1)
    restored = pipe.denoise(noisy).clamp(0, 1)
    p_noisy, p_restored = float(psnr(noisy, clean)), float(psnr(restored, clean))
    strip = torch.cat([noisy, restored, clean], dim=3)[0]
    arr = (strip.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    save_png(out_dir / "denoise.png", arr, pipe.recipe(seed=seed, sigma=SIGMA, image=f"skimage {TEST_IMAGE}"))
    body = (f"<p>DnCNN (8 layers, 32 wide) trained {summary['step']} steps on 40&times;40 patches of six photos "
            f"from scikit-image, then shown a photo it never saw ({TEST_IMAGE}) with Gaussian noise of sigma "
            f"{SIGMA:.0f}: PSNR {p_noisy:.2f} dB noisy &rarr; <b>{p_restored:.2f} dB</b> restored.</p>"
            "<p><img src='denoise.png' alt='noisy, restored, clean' width='768'><br>"
            "<small>noisy | restored | clean</small></p>")
    return {"title": "Restoration: denoising a photo", "html": body,
            "figures": {"psnr_noisy": p_noisy, "psnr_restored": p_restored, "steps": summary["step"],
                        "seconds": round(summary["seconds"], 1)}}
