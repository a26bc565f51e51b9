"""Video prediction metrics as the OpenSTL benchmark tables state them (Tan et al. 2023).

- **MSE** per frame: pixels in [0, 1], squared error **summed over the frame** (H x W x C), then
  averaged over frames and sequences — OpenSTL's ``np.mean((pred - true) ** 2, axis=(0, 1)).sum()``
  on (N, T, C, H, W). On Moving MNIST 64x64 a value of 29.8 therefore means a mean squared pixel
  error of 29.8 / 4096.
- **MAE** the same with absolute error.
- **SSIM** and **PSNR** per frame (data range 1), averaged over frames and sequences, from
  :mod:`aigc.metrics.restore_ssim` / :mod:`aigc.metrics.restore_psnr`. Our SSIM is Wang et al.'s
  Gaussian-window SSIM (sigma 1.5, as scikit-image with ``gaussian_weights=True``); OpenSTL calls
  scikit-image with its defaults (7x7 uniform window), which differs in the third decimal.
- The **per-time-step curve** of each: the score at future step t averaged over sequences.
"""

from __future__ import annotations

from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.metrics.restore_psnr import psnr_per_image
from aigc.metrics.restore_ssim import ssim_per_image

__all__ = ["video_frame_scores", "frame_mse", "video_prediction_scores", "VideoPredictionMetrics"]

SCORES = ("mse", "mae", "ssim", "psnr")


def _as_video(x: Any, name: str) -> torch.Tensor:
    """(N, T, C, H, W) float64 from (N, T, C, H, W), (N, T, H, W) or (T, H, W) in [0, 1]."""
    t = torch.as_tensor(x).detach().cpu().to(torch.float64)
    if t.ndim == 3:
        t = t[None]
    if t.ndim == 4:
        t = t[:, :, None]
    if t.ndim != 5:
        raise BadInputError(f"{name}: expected video (N, T, C, H, W), (N, T, H, W) or (T, H, W), "
                            f"got {tuple(t.shape)}")
    return t


def video_frame_scores(pred: Any, true: Any, *, ssim: bool = True) -> dict[str, torch.Tensor]:
    """Per-frame scores, each (N, T) float64: ``mse``/``mae`` summed over the frame's pixels,
    ``psnr`` (dB) and, with ``ssim``, ``ssim``. Videos in [0, 1]."""
    p, t = _as_video(pred, "pred"), _as_video(true, "true")
    if p.shape != t.shape:
        raise BadInputError(f"pred and true shapes differ: {tuple(p.shape)} vs {tuple(t.shape)}")
    n, steps = p.shape[:2]
    diff = p - t
    out = {"mse": (diff**2).flatten(2).sum(2), "mae": diff.abs().flatten(2).sum(2)}
    frames_p, frames_t = p.flatten(0, 1), t.flatten(0, 1)
    out["psnr"] = psnr_per_image(frames_p, frames_t).view(n, steps)
    if ssim:
        out["ssim"] = ssim_per_image(frames_p, frames_t).view(n, steps)
    return out


def frame_mse(pred: Any, true: Any) -> float:
    """OpenSTL's MSE: squared error summed over each frame, averaged over frames and sequences."""
    p, t = _as_video(pred, "pred"), _as_video(true, "true")
    if p.shape != t.shape:
        raise BadInputError(f"pred and true shapes differ: {tuple(p.shape)} vs {tuple(t.shape)}")
    return float(((p - t) ** 2).mean(dim=(0, 1)).sum())


def video_prediction_scores(pred: Any, true: Any) -> dict[str, Any]:
    """Means of every score and their per-time-step curves (lists, one value per future frame)."""
    metric = VideoPredictionMetrics()
    metric.update(pred, true)
    return metric.compute()


class VideoPredictionMetrics:
    """Accumulates per-time-step sums of MSE, MAE, SSIM and PSNR; ``compute`` gives the means and
    the curves. ``merge`` adds another accumulator (e.g. from another process or shard)."""

    def __init__(self, *, ssim: bool = True) -> None:
        self.with_ssim = ssim
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def update(self, pred: Any, true: Any) -> None:
        scores = video_frame_scores(pred, true, ssim=self.with_ssim)
        for key, value in scores.items():
            total = value.sum(dim=0)
            if key in self.sums and self.sums[key].shape != total.shape:
                raise BadInputError(f"videos of {total.numel()} frames cannot be added to "
                                    f"{self.sums[key].numel()}-frame ones")
            self.sums[key] = self.sums[key] + total if key in self.sums else total
        self.count += int(next(iter(scores.values())).shape[0])

    def merge(self, other: "VideoPredictionMetrics") -> None:
        for key, value in other.sums.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value.clone()
        self.count += other.count

    def compute(self) -> dict[str, Any]:
        if not self.count:
            return {k: float("nan") for k in self.sums} | {"sequences": 0}
        out: dict[str, Any] = {"sequences": self.count}
        for key in SCORES:
            if key in self.sums:
                curve = self.sums[key] / self.count
                out[key] = float(curve.mean())
                out[f"{key}_per_step"] = [float(v) for v in curve]
        return out
