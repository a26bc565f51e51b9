"""``aigc train video`` flags, ``aigc predict``, ``aigc interpolate``, ``aigc generate DIR`` for video
models and ``aigc eval video``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from aigc.core.cli_args import (
    HelpFormatter,
    add_device_arg,
    add_inference_args,
    add_seed_arg,
    positive_int,
    progress_enabled,
)
from aigc.video.defaults import ETA, GUIDANCE

__all__ = ["add_train_args", "generate_parser", "add_predict", "add_interpolate", "add_eval_video",
           "run_predict", "run_interpolate", "run_generate", "run_eval_video"]

_FMT = HelpFormatter
_OUT_HELP = "output .gif, .mp4 or .webm, or a folder (no suffix) of PNG frames (the recipe is embedded)"


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The video task's own ``aigc train video`` flags (dests = VideoSettings fields)."""
    from aigc.video.task import TASK
    from aigc.video.train import DATA_SOURCES

    p.add_argument("--arch", choices=sorted(TASK.architectures), default="simvp",
                   help="simvp / convlstm: predict frames 11-20 from 1-10; layered: the same from "
                        "sprites cut from the last frame and moved (rigid objects on a dark "
                        "background, as Moving MNIST; see aigc.video.layered); interp: middle frames; "
                        "diffusion: class-conditional 32x32 clips of one moving digit")
    p.add_argument("--data", choices=sorted(DATA_SOURCES), default="moving-mnist",
                   help="moving-mnist: MNIST train digits (AIGC_DATA_DIR or downloaded); "
                        "moving-digits: scikit-learn's digits enlarged to 28x28 (embedded)")
    p.add_argument("--sequences", type=positive_int, default=100_000,
                   help="training pool of random 2-digit sequences, rendered per batch")
    p.add_argument("--context", type=positive_int, default=10, help="frames the model reads")
    p.add_argument("--future", type=positive_int, default=10, help="frames the model predicts")
    p.add_argument("--frames", type=positive_int, default=16, help="clip length (diffusion)")
    g = p.add_argument_group("model size (default: the architecture's)")
    g.add_argument("--width", type=positive_int, default=None,
                   help="convlstm hidden channels (32) / simvp translator width (128) / layered "
                        "U-Net bottom width (128) / interp and "
                        "diffusion width (64)")
    g.add_argument("--layers", type=positive_int, default=None,
                   help="convlstm layers (3) / simvp translator blocks (4) / layered bottom blocks "
                        "(2) / interp blocks (4) / "
                        "diffusion blocks (4)")
    g.add_argument("--patch", type=positive_int, default=None, help="pixels per side of a patch (4)")
    g.add_argument("--translator", choices=("tau", "conv"), default="tau",
                   help="simvp's middle: tau = large-kernel depthwise attention (128 wide, 4 blocks; "
                        "fastest in fp32); conv = residual dense 3x3 convolutions (256 wide, 6 blocks, "
                        "64 frame features): with --precision bf16 on a CPU with AMX (Intel Xeon 4th "
                        "generation or later) it trains ~1.5x faster per step at 11x the size and "
                        "reaches a lower error in the same CPU time; without AMX stay with tau")
    p.add_argument("--no-validate", dest="validate", action="store_false",
                   help="skip scoring 256 held-out sequences after training")
    p.set_defaults(steps=3000)  # --lr and --batch-size: the architecture's (16 and 1e-3; layered 2e-3)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fps", type=float, default=None, help="frame rate of the output (default: the input's)")
    p.add_argument("--scale", type=positive_int, default=1, help="enlarge the output by pixel repetition")
    add_inference_args(p, out=None, out_help=_OUT_HELP)


def _predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--context", required=True, metavar="CLIP",
                   help="GIF, MP4/WebM or folder of frames; its last frames are the context")
    p.add_argument("--frames", type=positive_int, default=10, help="future frames to predict")
    p.add_argument("--with-context", action="store_true", help="put the context frames before the prediction")
    p.add_argument("--sheet", metavar="PNG", help="also write a contact sheet (context | prediction)")
    _common(p)


def _interpolate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="CLIP", help="GIF, MP4/WebM or folder of frames")
    p.add_argument("--factor", type=int, choices=(2, 4, 8), default=2,
                   help="output frames per input frame (factor - 1 predicted frames between each pair)")
    _common(p)


def add_predict(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict", help="predict the next frames of a clip with a video model", formatter_class=_FMT,
        description="Predict the frames that follow a clip. Example: aigc predict runs/simvp "
                    "--context clip.gif --frames 10 --out future.gif")
    p.add_argument("model_dir", help="a frame-prediction model directory (simvp, layered, convlstm)")
    _predict_args(p)
    p.set_defaults(func=run_predict)


def add_interpolate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "interpolate", help="insert predicted in-between frames into a clip", formatter_class=_FMT,
        description="Make a clip smoother with predicted middle frames (not a blend of the "
                    "neighbours). Example: aigc interpolate runs/interp in.gif --factor 2 --out smooth.gif")
    p.add_argument("model_dir", help="a frame-interpolation model directory (interp)")
    _interpolate_args(p)
    p.set_defaults(func=run_interpolate)


def _generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt", default=None, help="digit class, e.g. seven or 7 (default: any)")
    p.add_argument("--n", type=positive_int, default=1, help="clips, tiled side by side in one video")
    p.add_argument("--frames", type=positive_int, default=None, help="clip length (default: the trained one)")
    p.add_argument("--steps", type=positive_int, default=30, help="DDIM sampling steps")
    p.add_argument("--guidance", type=float, default=GUIDANCE,
                   help=f"classifier-free guidance scale (1 = off; default {GUIDANCE:g}: the benchmark's best)")
    p.add_argument("--eta", type=float, default=ETA,
                   help=f"noise added back at each sampling step: 0 = deterministic DDIM, 1 = DDPM "
                        f"(default {ETA:g}; 1 sharpened one benchmark model's clips and not another's; the "
                        f"seed fixes the clips either way)")
    _common(p)


def generate_parser(model_dir: str) -> argparse.ArgumentParser:
    """``aigc generate DIR`` for video models: by the model's kind, prediction from --context,
    interpolation of a clip, or new clips."""
    from aigc.core.modeldir import read_config
    from aigc.core.registry import resolve
    from aigc.video.task import TASK

    kinds = {  # kind -> (what, example arguments, adds the options, runs)
        "prediction": ("predict the frames after a clip", "--context clip.gif --frames 10 --out future.gif",
                       _predict_args, run_predict),
        "interpolation": ("interpolate a clip", "in.gif --factor 2 --out smooth.gif", _interpolate_args,
                          run_interpolate),
        "generation": ("generate new clips", "--frames 16 --prompt seven --out clip.gif", _generate_args,
                       run_generate),
    }
    arch = read_config(model_dir).get("architecture")
    kind = resolve(TASK.architectures[arch]).kind if arch in TASK.architectures else "prediction"
    what, example, add, run = kinds[kind]
    p = argparse.ArgumentParser(prog=f"aigc generate {model_dir}", formatter_class=_FMT,
                                description=f"With a video model, {what}. Example: aigc generate "
                                            f"{model_dir} {example}")
    add(p)
    p.set_defaults(func=lambda a: run(a, model_dir))
    return p


def run_generate(args: argparse.Namespace, model_dir: str) -> int:
    import torch

    pipe = _load(model_dir, args.device)
    label = pipe.label_for(args.prompt) if args.prompt is not None else None
    clips = pipe.generate(args.n, seed=args.seed, labels=label, frames=args.frames, steps=args.steps,
                          guidance=args.guidance, eta=args.eta)
    gap = torch.ones(*clips.shape[1:4], 1)
    parts = [p for clip in clips for p in (clip, gap)][:-1]
    params = {"command": "generate", "n": args.n, "prompt": args.prompt, "label": label,
              "frames": clips.shape[1], "steps": args.steps, "guidance": args.guidance, "eta": args.eta,
              "seed": args.seed, "watermark": args.watermark}
    path = pipe.save(torch.cat(parts, dim=3), args.out, fps=args.fps or 8.0, scale=args.scale, **params)
    print(f"wrote {path} ({args.n} clip(s) of {clips.shape[1]} frames)")
    return 0


def _load(model_dir: str, device: str) -> Any:
    import aigc

    return aigc.load(model_dir, device=device)


def run_predict(args: argparse.Namespace, model_dir: str | None = None) -> int:
    import torch

    pipe = _load(model_dir or args.model_dir, args.device)
    context, fps = pipe.load_clip(args.context)
    pred = pipe.predict(context, frames=args.frames)
    params = {"command": "predict", "frames": args.frames, "with_context": args.with_context,
              "seed": args.seed, "watermark": args.watermark, **pipe.input_recipe(args.context)}
    used = context[-pipe.context_frames:]
    out = torch.cat([used, pred]) if args.with_context else pred
    path = pipe.save(out, args.out, fps=args.fps or fps, scale=args.scale, **params)
    print(f"wrote {path} ({out.shape[0]} frames)")
    if args.sheet:
        print(f"wrote {pipe.save_sheet(args.sheet, used, None, pred, **params)}")
    print(json.dumps(pipe.recipe(**params)), file=sys.stderr)
    return 0


def run_interpolate(args: argparse.Namespace, model_dir: str | None = None) -> int:
    pipe = _load(model_dir or args.model_dir, args.device)
    clip, fps = pipe.load_clip(args.input)
    out = pipe.interpolate(clip, factor=args.factor)
    params = {"command": "interpolate", "factor": args.factor, "seed": args.seed,
              "watermark": args.watermark, **pipe.input_recipe(args.input)}
    path = pipe.save(out, args.out, fps=args.fps or fps * args.factor, scale=args.scale, **params)
    print(f"wrote {path} ({clip.shape[0]} -> {out.shape[0]} frames)")
    print(json.dumps(pipe.recipe(**params)), file=sys.stderr)
    return 0


def add_eval_video(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "video", help="score video models on the fixed Moving MNIST test set", formatter_class=_FMT,
        description="Score frame-prediction models (10 -> 10) with OpenSTL's per-frame MSE (squared "
                    "error summed over the 64x64 frame), MAE, SSIM and PSNR and their per-step "
                    "curves (the copy-last-frame baseline is always reported), interpolation models "
                    "against a linear blend, and generation models by the Fréchet distance in a clip "
                    "classifier's features (with the real-vs-real floor). Examples: aigc eval video "
                    "--model runs/simvp --test-size 10000 --json report.json; aigc eval video "
                    "--model runs/diffusion --features runs/clip-classifier --n 500")
    p.add_argument("--model", action="append", default=[], metavar="DIR", help="model directory (repeatable)")
    p.add_argument("--test-size", type=positive_int, default=10_000, help="first N test sequences")
    p.add_argument("--no-canonical", dest="canonical", action="store_false",
                   help="ignore mnist_test_seq.npy and use the generated, cached test set")
    p.add_argument("--batch-size", type=positive_int, default=100)
    g = p.add_argument_group("generation models")
    g.add_argument("--features", metavar="DIR", help="a clip-classifier model directory")
    g.add_argument("--n", type=positive_int, default=500, help="generated and real clips compared")
    g.add_argument("--steps", type=positive_int, default=30, help="DDIM steps")
    g.add_argument("--guidance", type=float, default=GUIDANCE, help=f"guidance scale (default {GUIDANCE:g})")
    g.add_argument("--eta", type=float, default=ETA, help=f"sampling noise, 0 (DDIM) to 1 (DDPM) (default {ETA:g})")
    add_seed_arg(g, "seed of the generated clips")
    add_device_arg(p)
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="no progress bars")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON here")
    p.set_defaults(func=run_eval_video)


def _score(pipe: Any, args: argparse.Namespace, frames: Any) -> dict[str, Any]:
    from aigc.core.errors import BadInputError
    from aigc.video.evaluate import evaluate_generation, evaluate_model

    if pipe.kind != "generation":
        return evaluate_model(pipe.objective, pipe.nets, frames(), device=pipe.device, batch=args.batch_size,
                              progress=progress_enabled(args))
    if not args.features:
        raise BadInputError(f"{pipe.source}: a generation model is scored in a clip classifier's features; "
                            "give --features DIR (train one with `aigc train video --arch clip-classifier`)")
    clf = _load(args.features, args.device)
    if clf.kind != "classification":
        raise BadInputError(f"--features {args.features}: a {clf.architecture!r} model, not a clip-classifier")
    source = {"moving-digits": "digits"}.get((pipe.config.get("data") or {}).get("source"), "mnist")
    return {"features": args.features, "features_model_id": clf.model_id,
            **evaluate_generation(pipe, clf, n=args.n, seed=args.seed, steps=args.steps,
                                  guidance=args.guidance, eta=args.eta, batch=args.batch_size, source=source,
                                  progress=progress_enabled(args))}


def run_eval_video(args: argparse.Namespace) -> int:
    from aigc.core.atomic import atomic_write_json
    from aigc.data.moving_mnist import test_set
    from aigc.video.evaluate import copy_last_frame, evaluate_prediction

    cache: dict[str, Any] = {}

    def frames() -> Any:
        if "frames" not in cache:
            cache["frames"] = test_set(args.test_size, canonical=args.canonical)
        return cache["frames"]

    report: dict[str, Any] = {}
    pipes = [_load(d, args.device) for d in args.model]
    if not pipes or any(p.kind == "prediction" for p in pipes):
        report["copy_last_frame"] = evaluate_prediction(copy_last_frame, frames(), batch=args.batch_size,
                                                        progress=progress_enabled(args))
    for model_dir, pipe in zip(args.model, pipes):
        report[model_dir] = {"model_id": pipe.model_id, "architecture": pipe.architecture,
                             **_score(pipe, args, frames)}
    if "frames" in cache:
        report["test_sequences"] = int(len(cache["frames"]))
    keys = ("mse", "ssim", "psnr", "blend_psnr", "fvd_classifier", "fvd_floor_real_vs_real",
            "conditional_accuracy")
    for name, scores in report.items():
        if isinstance(scores, dict):
            print(f"{name:>24}: " + ", ".join(f"{k}={scores[k]:.4f}" for k in keys if k in scores))
    if args.json:
        atomic_write_json(args.json, report)
        print(f"report written to {args.json}", file=sys.stderr)
    return 0
