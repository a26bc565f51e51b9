"""``aigc train image-gen`` flags and ``aigc generate`` for image-generation models."""

from __future__ import annotations

import argparse

from aigc.core.cli_args import (
    add_inference_args,
    bounded_int,
    positive_int,
    progress_enabled,
)
from aigc.core.registry import task_architectures
from aigc.image_gen.cli_options import (
    add_family_args,
    add_sampling_args,
    sampling_kwargs,
)

__all__ = ["add_train_args", "generate_parser"]

TASK = "image-gen"


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The task's own flags; ``--lr``/``--batch-size`` left unset take the architecture's paper
    defaults (e.g. wgan-gp 1e-4)."""
    p.add_argument("--arch", choices=sorted(task_architectures(TASK)), default="dcgan",
                   help="architecture; gauss is a per-class Gaussian in PCA space fitted in one pass (seconds), "
                        "with --dp-epsilon a differentially private generator, e.g. --arch gauss --data mnist "
                        "--cond --dp-epsilon 10")
    p.add_argument("--data", default="digits",
                   help="digits, faces, mnist, fashion-mnist or folder:PATH (sub-folders = classes)")
    p.add_argument("--split", default="train", choices=["train", "test", "all"], help="data split")
    p.add_argument("--image-size", type=int, default=32, choices=[8, 16, 32, 64], help="pixels")
    p.add_argument("--channels", type=int, choices=[1, 3], default=None, help="default: the data's")
    p.add_argument("--latent-dim", type=positive_int, default=None,
                   help="default: the architecture's (gauss: PCA components, 50)")
    p.add_argument("--features", type=positive_int, default=None, help="width of the 4x4 layers")
    p.add_argument("--d-norm", choices=["batch", "none", "spectral"], default=None,
                   help="GAN discriminator normalisation (default: the architecture's); DP-SGD needs per-example "
                        "gradients, so e.g. aigc train image-gen --arch cgan --d-norm none --dp-epsilon 10")
    p.add_argument("--hflip", action="store_true", help="augment with left-right flips")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable images (and count them)")
    add_family_args(p)
    p.set_defaults(steps=2000, batch_size=None, lr=None)


def generate_parser(model_dir: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"aigc generate {model_dir}",
                                description="Sample new images from an image-generation model. Example: "
                                            f"aigc generate {model_dir} --n 64 --seed 0 --out grid.png",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=bounded_int(1, 100_000), default=64, help="number of images")
    p.add_argument("--batch-size", type=positive_int, default=256)
    add_inference_args(p, out="samples.png", out_help="a .png grid, or a folder for one PNG per image")
    add_sampling_args(p)
    p.set_defaults(func=lambda a: run_generate(model_dir, a))
    return p


def run_generate(model_dir: str, args: argparse.Namespace) -> int:
    import aigc

    pipe = aigc.load(model_dir, device=args.device)
    options = sampling_kwargs(pipe, args)
    images = pipe.generate(args.n, seed=args.seed, batch_size=args.batch_size, progress=progress_enabled(args),
                           **options)
    paths = pipe.save(images, args.out, seed=args.seed, n=args.n, watermark=args.watermark,
                      **{k: v for k, v in options.items() if v is not None})
    print(f"wrote {len(images)} image(s) to {paths[0] if len(paths) == 1 else args.out}")
    return 0
