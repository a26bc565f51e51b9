"""``aigc train restore`` flags, ``aigc upscale``, ``aigc denoise``, ``aigc inpaint`` (restore models)
and ``aigc stylize``."""

from __future__ import annotations

import argparse

from aigc.core.cli_args import add_device_arg, add_seed_arg, bounded_int, positive_int

__all__ = ["add_train_args", "add_upscale", "add_denoise", "inpaint_parser", "add_stylize"]

TASK = "restore"
# "%(default)" keeps ArgumentDefaultsHelpFormatter from appending a "(default: True)" that reads backwards
_WATERMARK_HELP = "leave out the invisible watermark (watermark=%(default)s unless given; `aigc verify FILE` finds it)"


def _add_watermark_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-watermark", dest="watermark", action="store_false", help=_WATERMARK_HELP)


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The task's own flags for ``aigc train restore``."""
    from aigc.restore.train import KINDS

    archs = sorted({a for v in KINDS.values() for a in v})
    p.add_argument("--kind", choices=sorted(KINDS), default="sr", help="what to learn")
    p.add_argument("--arch", choices=archs, default=None, help="default: the kind's first "
                   + "; ".join(f"{k}: {', '.join(v)}" for k, v in KINDS.items()))
    p.add_argument("--data", default=None, help="folder:PATH, PATH or a staged set (t91, train400, "
                   "content, ...); default t91 (sr, inpaint), train400 (denoise), content (style)")
    p.add_argument("--scale", type=int, choices=[2, 3, 4], default=None, help="SR factor (default 2)")
    p.add_argument("--channels", type=int, choices=[1, 3], default=None,
                   help="1 = Y channel (sr) / grey (denoise), 3 = RGB")
    p.add_argument("--features", type=positive_int, default=None, help="network width")
    p.add_argument("--blocks", type=positive_int, default=None, help="residual blocks (srresnet, srgan)")
    p.add_argument("--depth", type=positive_int, default=None, help="layers (dncnn)")
    p.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None,
                   help="dncnn: batch norm in the hidden layers (default on, as the paper); off trains "
                        "faster on short CPU budgets (BSD68 sigma 25: 28.33 vs 27.63 dB after 240 CPU-s)")
    p.add_argument("--sigma", type=float, default=None, help="noise level, 0-255 scale (default 25)")
    p.add_argument("--sigma-max", type=float, default=None, help="blind denoising: sigma ~ U[sigma, max]")
    p.add_argument("--loss", choices=["l1", "l2"], default=None, help="pixel loss (sr)")
    p.add_argument("--style", default=None, metavar="IMG", help="style image (--kind style)")
    p.add_argument("--vgg-weights", default=None, metavar="FILE",
                   help="VGG19 safetensors (torchvision keys features.N.weight) for perceptual losses")
    p.add_argument("--init", default=None, metavar="DIR", help="srgan: start the generator from an "
                   "srresnet model directory with the same settings")
    p.add_argument("--patch", type=positive_int, default=None, help="patch size (LR pixels for sr)")
    p.add_argument("--patches", type=positive_int, default=None,
                   help="patches cut (seeded) for training (default: 8192 sr, 16384 denoise, 4096 inpaint, 1024 style)")
    p.set_defaults(steps=2000, batch_size=16, lr=1e-3)


def _add_file_command(subparsers: argparse._SubParsersAction, name: str, help: str) -> None:
    p = subparsers.add_parser(name, help=help, description=f"{help[0].upper()}{help[1:]}; the PNG "
                              "records the model id and parameters. Large images run in tiles.",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", help="a restore model directory from `aigc train restore`")
    p.add_argument("input", help="image file")
    p.add_argument("output", help="PNG file to write")
    p.add_argument("--tile", type=int, default=256, help="tile size in input pixels (0 = whole image)")
    p.add_argument("--overlap", type=int, default=None, help="tile context (default: receptive field)")
    add_device_arg(p)
    _add_watermark_arg(p)
    p.set_defaults(func=lambda a: _run_file(a, name))


def _run_file(args: argparse.Namespace, name: str) -> int:
    import aigc
    from aigc.core.errors import BadInputError

    pipe = aigc.load(args.model_dir, device=args.device)
    want = {"upscale": "sr", "denoise": "denoise"}[name]
    if getattr(pipe, "kind", None) != want:
        raise BadInputError(f"{args.model_dir} is not a {want!r} restore model (it is "
                            f"{getattr(pipe, 'kind', pipe.task)!r}); train one with --kind {want}")
    path = pipe.process_file(args.input, args.output, tile=args.tile, overlap=args.overlap, watermark=args.watermark)
    print(f"wrote {path}")
    return 0


def add_upscale(subparsers: argparse._SubParsersAction) -> None:
    _add_file_command(subparsers, "upscale", "upscale an image with a super-resolution model")


def add_denoise(subparsers: argparse._SubParsersAction) -> None:
    _add_file_command(subparsers, "denoise", "denoise an image with a denoising model")


def inpaint_parser(model_dir: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"aigc inpaint {model_dir}",
                                description="Fill the white (non-zero) region of --mask in --image; "
                                            "other pixels are kept (exactly with --no-watermark; the "
                                            "watermark moves them by a grey level or two). Example: aigc "
                                            f"inpaint {model_dir} --image photo.png --mask hole.png "
                                            "--out filled.png")
    p.add_argument("--image", required=True, help="image file")
    p.add_argument("--mask", required=True, help="mask image, same size: white = fill")
    p.add_argument("--out", required=True, help="PNG file to write")
    add_seed_arg(p, "recorded in the PNG")
    add_device_arg(p)
    _add_watermark_arg(p)
    p.set_defaults(func=lambda a: _run_inpaint(model_dir, a))
    return p


def _run_inpaint(model_dir: str, args: argparse.Namespace) -> int:
    import aigc

    pipe = aigc.load(model_dir, device=args.device)
    print(f"wrote {pipe.inpaint_file(args.image, args.mask, args.out, seed=args.seed, watermark=args.watermark)}")
    return 0


def add_stylize(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "stylize", help="style transfer (Gatys optimisation, or a trained feed-forward --model)",
        description="Render IN in the style of --style. Without --model, optimise the image "
                    "(Gatys et al. 2016) with VGG19 features from --vgg-weights, else a seeded "
                    "random-feature encoder (labelled in the PNG metadata).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("input", help="content image")
    p.add_argument("output", help="PNG file to write")
    p.add_argument("--style", default=None, metavar="IMG", help="style image (needed without --model)")
    p.add_argument("--model", default=None, metavar="DIR", help="a style model from --task style")
    p.add_argument("--vgg-weights", default=None, metavar="FILE", help="VGG19 safetensors")
    p.add_argument("--steps", type=bounded_int(1, 100_000), default=300, help="optimisation steps (Gatys)")
    p.add_argument("--size", type=bounded_int(16, 4096), default=384, help="longest side for Gatys (pixels)")
    p.add_argument("--style-weight", type=float, default=1e5, help="Gatys style/content balance")
    add_seed_arg(p)
    add_device_arg(p)
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (also off when stderr is not a terminal)")
    _add_watermark_arg(p)
    p.set_defaults(func=run_stylize)


def run_stylize(args: argparse.Namespace) -> int:
    from aigc.restore.style_cli import run_stylize as run

    return run(args)
