"""CLI options of the GAN family and diffusion: training flags (conditioning, noise schedule,
diagnostics), sampling flags (``--label/--prompt/--steps/--guidance``) and ``aigc inpaint``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aigc.core.cli_args import add_device_arg, add_seed_arg
from aigc.core.errors import BadInputError
from aigc.train.cli_args import positive_int

__all__ = ["add_family_args", "family_fields", "add_sampling_args",
           "sampling_kwargs", "inpaint_parser", "run_inpaint"]


def add_family_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("conditioning, diffusion and diagnostics")
    g.add_argument("--cond", action="store_true",
                   help="class-conditional on the data's labels (cgan always is; ddpm and the GANs on request)")
    g.add_argument("--timesteps", type=positive_int, default=None, help="ddpm: diffusion steps T (default 1000)")
    g.add_argument("--schedule-kind", choices=["linear", "cosine"], default=None,
                   help="ddpm: noise schedule (default linear); --schedule is the learning-rate schedule")
    g.add_argument("--diag-every", type=int, default=0, metavar="STEPS",
                   help="log the class histogram of samples every STEPS steps (0 = off)")
    g.add_argument("--diag-features", default=None,
                   help="classifier for the diagnostics (default: the data's, e.g. mnist)")


def family_fields(args: Any, cls: type, data: Any) -> dict[str, Any]:
    """Config fields from the family settings (``ImageGenSettings`` or parsed flags), for the
    fields ``cls`` (a config dataclass) has."""
    names = cls.__dataclass_fields__
    fields: dict[str, Any] = {}
    default_classes = names["num_classes"].default if "num_classes" in names else 0
    if "num_classes" in names and (args.cond or default_classes > 0):
        if data.labels is None or not data.class_names:
            raise BadInputError(f"{args.arch} with class conditioning needs labelled data; {data.source!r} has "
                                f"no labels (use digits, mnist, fashion-mnist or folder:PATH with sub-folders)")
        fields["num_classes"] = len(data.class_names)
    elif args.cond:
        raise BadInputError(f"--cond: architecture {args.arch!r} cannot be class-conditional")
    for key, value in (("timesteps", args.timesteps), ("schedule_kind", args.schedule_kind)):
        if value is not None:
            if key not in names:
                raise BadInputError(f"--{key.replace('_', '-')} applies to ddpm, not {args.arch!r}")
            fields[key] = value
    if args.diag_every and "diag_every" in names:
        from aigc.metrics.features import DOMAIN_FEATURES

        features = args.diag_features or (data.source if data.source in DOMAIN_FEATURES else "")
        if not features:
            print(f"note: no classifier for {data.source!r}; class-histogram diagnostics are off")
        fields.update(diag_every=args.diag_every, diag_features=features)
    return fields


def add_sampling_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("class-conditional and diffusion models")
    which = g.add_mutually_exclusive_group()
    which.add_argument("--label", type=int, default=None, metavar="K", help="class index to generate")
    which.add_argument("--prompt", default=None, metavar="NAME", help='class name to generate, e.g. "seven"')
    g.add_argument("--steps", type=positive_int, default=None, help="diffusion: DDIM sampling steps (default 50)")
    g.add_argument("--guidance", type=float, default=None,
                   help="diffusion: classifier-free guidance scale (0 = unconditional, 1 = plain, default 3)")
    g.add_argument("--eta", type=float, default=None,
                   help="diffusion: noise added back at each step, 0 = deterministic DDIM, 1 = DDPM (default 1: "
                        "small CPU-trained models end on speckled backgrounds far more often at 0; at 1 a lower "
                        "--guidance, e.g. 1.5, gives the most natural strokes)")


def sampling_kwargs(pipe: Any, args: argparse.Namespace) -> dict[str, Any]:
    label = pipe.label_for(args.prompt) if args.prompt is not None else args.label
    return {"labels": label, "steps": args.steps, "guidance": args.guidance, "eta": args.eta}


def inpaint_parser(model_dir: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"aigc inpaint {model_dir}",
                                description="Fill the white region of MASK in IMAGE with a diffusion model.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--image", required=True, help="input image (PNG/JPEG)")
    p.add_argument("--mask", required=True, help="mask image of the same size: white = fill, black = keep")
    p.add_argument("--out", required=True, help="output .png")
    add_seed_arg(p)
    p.add_argument("--resample", type=positive_int, default=2,
                   help="RePaint jumps per step (1 = plain replacement method)")
    add_device_arg(p)
    add_sampling_args(p)
    p.set_defaults(func=lambda a: run_inpaint(model_dir, a))
    return p


def _read_tensor(path: str, mode: str):
    import torch

    from aigc.data.folder import read_image

    if not Path(path).is_file():
        raise BadInputError(f"{path}: file not found")
    arr = torch.from_numpy(read_image(Path(path), mode).copy()).float() / 255.0
    return arr.permute(2, 0, 1) if arr.ndim == 3 else arr[None]


def run_inpaint(model_dir: str, args: argparse.Namespace) -> int:
    import aigc

    pipe = aigc.load(model_dir, device=args.device)
    image = _read_tensor(args.image, "L" if pipe.image_shape[0] == 1 else "RGB")
    mask = _read_tensor(args.mask, "L")
    if mask.shape[-2:] != image.shape[-2:]:
        raise BadInputError(f"{args.mask}: mask is {tuple(mask.shape[-2:])} pixels but {args.image} is "
                            f"{tuple(image.shape[-2:])}; give a mask of the same size")
    out = pipe.inpaint(image, (mask > 0.5).float(), seed=args.seed, resample=args.resample,
                       **sampling_kwargs(pipe, args))
    from aigc.core.artifacts import make_grid, save_png

    if Path(args.out).suffix.lower() != ".png":
        raise BadInputError(f"--out {args.out!r}: give a .png file")
    # the picture itself at the model's size (no grid padding or enlarging), so kept pixels stay exact
    meta = pipe.recipe(seed=args.seed, image=Path(args.image).name, mask=Path(args.mask).name,
                       steps=args.steps, resample=args.resample, eta=args.eta)
    path = save_png(args.out, make_grid(out[:1], padding=0), meta)
    print(f"wrote {path}")
    return 0
