"""The video part of ``make demo``: a tiny SimVP predicting Moving MNIST frames 11-20 from 1-10 and a
tiny interpolation model doubling a clip's frame rate. The predictor trains for 40 CPU-seconds with
the dense-convolution translator in bf16 and the Muon optimizer where the CPU runs bf16 natively (AMX,
AVX512-BF16), else for 15 with the large-kernel one in fp32 and Adam; the interpolator for 15.

Digits come from MNIST when it is under ``AIGC_DATA_DIR``, else from scikit-learn's embedded 8x8
digits (enlarged), so the demo needs no network. At this budget the predictions are blurry blobs
that start where the digits are and move the right way, fading as the horizon grows (the bf16
recipe: per-frame MSE 110-115 on the shown clip, 128 with Adam, against 176 for the fp32 recipe
and 316 for copying the last frame; the benchmark's hour-long model draws the digits); the
interpolated frames are sharper (the task is easier).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import torch

__all__ = ["run"]

# Adam here: 64 test clips, seeds 0 / 1, on a 2-core EPYC (~50 steps in the 15 s): 161.0 / 163.6 against
# Muon's 165.6 / 164.9
_PREDICT = {"arch": "simvp", "width": 64, "layers": 2, "steps": 80, "batch": 16, "lr": 2e-3, "seconds": 15}
# where the CPU runs bf16 natively: the conv translator (see aigc.video.simvp) in bf16, more steps
# and Muon on its hidden weights (aigc.train.muon): 64 test clips, seeds 0 / 1: MSE 134.7 / 135.6 with Adam,
# 115.1 / 115.1 with Muon
_PREDICT_BF16 = {"arch": "simvp", "translator": "conv", "width": 128, "layers": 3, "steps": 600, "batch": 8,
                 "lr": 2e-3, "precision": "bf16", "optimizer": "muon", "seconds": 40}
_INTERP = {"arch": "interp", "width": 32, "layers": 3, "steps": 200, "batch": 16, "lr": 2e-3, "seconds": 15}


def _data_source() -> str:
    from aigc.core.errors import BadInputError
    from aigc.data.moving_mnist import load_digits

    try:
        load_digits("test")
    except BadInputError:
        return "moving-digits"
    return "moving-mnist"


def _train(recipe: dict, data: str, out: Path, seed: int) -> Any:
    import aigc
    from aigc.train.config import TrainConfig
    from aigc.video.train import VideoSettings, train

    settings = VideoSettings(arch=recipe["arch"], data=data, sequences=4000, width=recipe["width"],
                             layers=recipe["layers"], translator=recipe.get("translator", "tau"), validate=False)
    # cosine-time: a slower CPU stops earlier, but with the learning rate annealed (on a 2-core EPYC
    # without AMX the bf16 predictor reached step 171 of 600 in its 40 s, its rate still at 84 %)
    config = TrainConfig(steps=recipe["steps"], batch_size=recipe["batch"], lr=recipe["lr"], schedule="cosine-time",
                         seed=seed, progress=False, checkpoint_every=recipe["steps"], log_every=10,
                         precision=recipe.get("precision", "fp32"), optimizer=recipe.get("optimizer", "adam"),
                         time_limit_s=recipe["seconds"], time_limit_clock="cpu")
    train(settings, config, out / recipe["arch"])
    return aigc.load(out / recipe["arch"], device="cpu")


def _side_by_side(*clips: torch.Tensor) -> torch.Tensor:
    """(T, C, H, W) clips next to each other with a 2-pixel white gap: (T, C, H, sum W + gaps)."""
    t, c, h, _ = clips[0].shape
    gap = torch.ones(t, c, h, 2)
    parts = [clips[0]]
    for clip in clips[1:]:
        parts += [gap, clip]
    return torch.cat(parts, dim=3)


def run(out_dir: Path, seed: int = 0) -> dict[str, Any]:
    """Train the two tiny models into ``out_dir``; write a contact sheet, a prediction GIF and an
    interpolation GIF; returns the report part."""
    from aigc.core.device import cpu_has_fast_bf16
    from aigc.data.moving_mnist import load_digits, render_numpy, sample_sequences
    from aigc.video.artifacts import save_contact_sheet
    from aigc.video.evaluate import copy_last_frame
    from aigc.video.train import DATA_SOURCES

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = _data_source()
    predict_recipe = _PREDICT_BF16 if cpu_has_fast_bf16() else _PREDICT
    predictor = _train(predict_recipe, data, out_dir / "models", seed)
    interp = _train(_INTERP, data, out_dir / "models", seed)
    images, _ = load_digits("test", DATA_SOURCES[data])
    clip = torch.from_numpy(render_numpy(sample_sequences(1, len(images), 10_000 + seed), images))
    clip = clip[0].float().div(255).unsqueeze(1)  # (20, 1, 64, 64)
    context, truth = clip[:10], clip[10:]
    pred = predictor.predict(context, frames=10)
    recipe = predictor.recipe(seed=seed, frames=10, data=data)
    save_contact_sheet(out_dir / "video_sheet.png", context, truth,
                       {"simvp": pred, "copy last frame": copy_last_frame(context[None], 10)[0]}, recipe)
    predictor.save(_side_by_side(clip, torch.cat([context, pred])), out_dir / "video_prediction.gif",
                   fps=5, scale=2, seed=seed, frames=10, data=data, layout="truth | prediction")
    half = clip[0::2]
    smooth = interp.interpolate(half, factor=2)
    shown = _side_by_side(half.repeat_interleave(2, 0)[:smooth.shape[0]], smooth, clip[:smooth.shape[0]])
    interp.save(shown, out_dir / "video_interpolation.gif", fps=8, scale=2, seed=seed, factor=2,
                layout="half rate | interpolated | truth")
    mse_pred = float(((pred - truth) ** 2).sum(dim=(1, 2, 3)).mean())
    mse_copy = float(((context[-1:] - truth) ** 2).sum(dim=(1, 2, 3)).mean())
    esc = html.escape
    body = (f"<p>Data: {esc(data)} (2 digits bouncing on 64x64). A SimVP (all-convolutional) predicts "
            f"frames 11-20 from frames 1-10 after {predict_recipe['seconds']} CPU-seconds of training, so "
            f"its frames are blurry blobs that follow the digits; an interpolation network, trained for "
            f"{_INTERP['seconds']}, predicts in-between frames.</p>"
            f"<p>Context | truth (top row), SimVP prediction, copy-last-frame baseline "
            f"(per-frame MSE on this clip: SimVP {mse_pred:.1f}, copy-last {mse_copy:.1f}):<br>"
            f"<img src='video_sheet.png' style='max-width:100%'></p>"
            f"<p>Truth | prediction: <img src='video_prediction.gif'> "
            f"Half rate | interpolated x2 | truth: <img src='video_interpolation.gif'></p>")
    return {"title": "Video: frame prediction and interpolation", "html": body,
            "figures": {"data": data, "simvp_clip_mse": mse_pred, "copy_last_clip_mse": mse_copy,
                        "simvp_model_id": predictor.model_id, "interp_model_id": interp.model_id}}
