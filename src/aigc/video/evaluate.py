"""Scoring video models: prediction (OpenSTL's MSE/SSIM/PSNR, 10 -> 10), interpolation (predicted
middle frames against held-out true ones, next to a linear blend) and generation (Fréchet distance
in a clip classifier's features, with its real-vs-real floor).

Used by training's validation, ``aigc eval video`` and ``benchmarks/video_mmnist.py``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from aigc.metrics.video import VideoPredictionMetrics
from aigc.video.defaults import ETA, GUIDANCE

__all__ = ["copy_last_frame", "evaluate_prediction", "evaluate_interpolation", "evaluate_model",
           "real_clips", "evaluate_generation"]


def copy_last_frame(context: torch.Tensor, future: int) -> torch.Tensor:
    """The copy-last-frame baseline: (B, T, C, H, W) -> the last frame repeated (B, future, C, H, W)."""
    return context[:, -1:].expand(-1, future, *context.shape[2:]).clone()


def _batches(frames: np.ndarray, batch: int, progress: bool, desc: str):
    from tqdm.auto import tqdm

    starts = range(0, len(frames), batch)
    for s in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
        yield torch.from_numpy(np.array(frames[s:s + batch], dtype=np.uint8)).float().div(255.0).unsqueeze(2)


def evaluate_prediction(predict: Callable[[torch.Tensor, int], torch.Tensor], frames: np.ndarray, *,
                        context: int = 10, future: int = 10, batch: int = 100,
                        device: torch.device | str = "cpu", progress: bool = True) -> dict[str, Any]:
    """Scores of ``predict(context (B, context, 1, H, W), future) -> (B, future, 1, H, W)`` on
    ``frames`` (N, T, H, W) uint8 with T >= context + future: the means and per-step curves of
    MSE/MAE (summed over the frame), SSIM and PSNR."""
    metric = VideoPredictionMetrics()
    for clip in _batches(frames, batch, progress, "eval"):
        ctx = clip[:, :context].to(device)
        with torch.no_grad():
            pred = predict(ctx, future).float().clamp(0, 1).cpu()
        metric.update(pred, clip[:, context:context + future])
    return metric.compute()


def evaluate_interpolation(middle: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], frames: np.ndarray, *,
                           gap: int = 2, batch: int = 100, device: torch.device | str = "cpu",
                           progress: bool = True) -> dict[str, Any]:
    """Predicted middle frames against the true ones: for each sequence, the frames at 0, gap,
    2 gap, ... are kept and each middle frame (t + gap/2) is predicted from its neighbours.
    Returns ``{"model": scores, "blend": scores of 0.5 (a + b)}`` (MSE/MAE/SSIM/PSNR per frame)."""
    model, blend = VideoPredictionMetrics(), VideoPredictionMetrics()
    for clip in _batches(frames, batch, progress, "eval"):
        starts = list(range(0, clip.shape[1] - gap, gap))
        a = clip[:, starts].flatten(0, 1)
        b = clip[:, [s + gap for s in starts]].flatten(0, 1)
        truth = clip[:, [s + gap // 2 for s in starts]]
        with torch.no_grad():
            pred = middle(a.to(device), b.to(device)).float().clamp(0, 1).cpu()
        model.update(pred.view_as(truth), truth)
        blend.update((0.5 * (a + b)).view_as(truth), truth)
    return {"model": model.compute(), "blend": blend.compute()}


def evaluate_model(objective: Any, nets: Mapping[str, nn.Module], frames: np.ndarray, *,
                   device: torch.device | str = "cpu", batch: int = 100, progress: bool = True) -> dict[str, Any]:
    """Score a prediction or interpolation objective's networks on ``frames`` (N, T, H, W) uint8."""
    if objective.kind not in ("prediction", "interpolation"):
        from aigc.core.errors import BadInputError

        raise BadInputError(f"a video {objective.kind} model is not scored on the prediction test set; "
                            "for a generation model give --features CLASSIFIER_DIR")
    if objective.kind == "interpolation":
        out = evaluate_interpolation(lambda a, b: objective.middle(nets, a, b), frames,
                                     gap=objective.config.gap, batch=batch, device=device, progress=progress)
        return {**out["model"], "blend_psnr": out["blend"]["psnr"], "blend_mse": out["blend"]["mse"]}
    cfg = objective.config
    return evaluate_prediction(lambda c, f: objective.predict(nets, c, f), frames, context=cfg.context,
                               future=cfg.future, batch=batch, device=device, progress=progress)


def real_clips(n: int, seed: int, *, source: str = "mnist", frames: int = 16, size: int = 32,
               offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences ``offset .. offset + n`` of a one-digit test set (MNIST test digits, ``seed``) as
    (n, frames, 1, size, size) clips in [0, 1] and their labels (n,)."""
    from aigc.data.moving_mnist import load_digits, render_numpy, sample_sequences
    from aigc.video.objectives import pooled_clips

    images, labels = load_digits("test", source)
    spec = sample_sequences(offset + n, len(images), seed, frames=frames, n_digits=1, labels=labels)
    spec.digits, spec.labels, spec.positions = spec.digits[offset:], spec.labels[offset:], spec.positions[offset:]
    frames_u8 = torch.from_numpy(render_numpy(spec, images))
    return pooled_clips({"frames": frames_u8}, frames, size), torch.from_numpy(spec.labels[:, 0])


def evaluate_generation(pipe: Any, classifier: Any, *, n: int = 500, seed: int = 0, steps: int = 30,
                        guidance: float = GUIDANCE, eta: float = ETA, batch: int = 50, source: str = "mnist",
                        progress: bool = True) -> dict[str, Any]:
    """Fréchet distance between generated clips (labels 0..9 in turn) and real one-digit test clips
    in the features of a clip classifier (a ``clip-classifier`` pipeline), the real-vs-real floor
    (two disjoint real sets of ``n``), and the classifier's accuracy on the generated clips' labels."""
    from tqdm.auto import tqdm

    from aigc.metrics.image_fid import frechet_distance

    cfg = pipe.objective.config
    real, _ = real_clips(2 * n, 10_007, source=source, frames=cfg.frames, size=cfg.image_size)
    labels = torch.arange(n) % max(1, cfg.num_classes)
    fakes = []
    for s in tqdm(range(0, n, batch), desc="generate", disable=not progress, leave=False):
        lab = labels[s:s + batch].tolist() if cfg.num_classes else None
        fakes.append(pipe.generate(len(labels[s:s + batch]), seed=seed + s, labels=lab, steps=steps,
                                   guidance=guidance, eta=eta))
    fake = torch.cat(fakes)
    feats = {k: classifier.objective.features(classifier.nets, v.to(classifier.device)).cpu()
             for k, v in {"real": real[:n], "real2": real[n:], "fake": fake}.items()}
    logits = classifier.nets["model"].head(feats["fake"].float().to(classifier.device)).cpu()
    out = {"fvd_classifier": frechet_distance(feats["real"], feats["fake"]),
           "fvd_floor_real_vs_real": frechet_distance(feats["real"], feats["real2"]),
           "clips": n, "steps": steps, "guidance": guidance, "eta": eta}
    if cfg.num_classes:
        out["conditional_accuracy"] = float((logits.argmax(1) == labels).float().mean())
    return out
