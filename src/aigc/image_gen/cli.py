"""``aigc train image-gen`` and ``aigc generate`` for image-generation models."""

from __future__ import annotations

import argparse

from aigc.core.errors import BadInputError
from aigc.core.registry import ARCHITECTURES, architecture
from aigc.image_gen.cli_options import (add_family_args, add_sampling_args, apply_arch_defaults,
                                        family_fields, inpaint_parser, sampling_kwargs)
from aigc.train.cli_args import add_train_args, positive_int, train_config_from_args

__all__ = ["add_train", "run_train", "generate_parser", "inpaint_parser"]

TASK = "image-gen"


def add_train(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        TASK, help="image generators (GANs, VAE)",
        description="Train an image generator. Example: aigc train image-gen --arch dcgan "
                    "--data digits --steps 2000 --out runs/dcgan",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--arch", choices=sorted(ARCHITECTURES[TASK]), default="dcgan", help="architecture")
    p.add_argument("--data", default="digits",
                   help="digits, faces, mnist, fashion-mnist or folder:PATH (sub-folders = classes)")
    p.add_argument("--split", default="train", choices=["train", "test", "all"], help="data split")
    p.add_argument("--image-size", type=int, default=32, choices=[8, 16, 32, 64], help="pixels")
    p.add_argument("--channels", type=int, choices=[1, 3], default=None, help="default: the data's")
    p.add_argument("--latent-dim", type=positive_int, default=None, help="default: the architecture's")
    p.add_argument("--features", type=positive_int, default=None, help="width of the 4x4 layers")
    p.add_argument("--hflip", action="store_true", help="augment with left-right flips")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable images (and count them)")
    add_family_args(p)
    add_train_args(p, steps=2000, batch_size=64, lr=2e-4)
    # --lr / --batch-size left unset take the architecture's paper defaults (e.g. wgan-gp 1e-4, 320)
    p.set_defaults(func=run_train, lr=None, batch_size=None)
    # "%(default).0s" prints nothing and stops the formatter appending "(default: None)".
    helps = {"lr": "learning rate (default: the architecture's, else 2e-4)%(default).0s",
             "batch_size": "per process (default: the architecture's, else 64)%(default).0s"}
    for action in p._actions:
        action.help = helps.get(action.dest, action.help)


def _model_config(args: argparse.Namespace, channels: int, data=None):
    cls = architecture(TASK, args.arch).config_class
    fields = {"image_size": args.image_size, "channels": channels, "hflip": args.hflip}
    if data is not None:
        fields.update(family_fields(args, cls, data))
    if args.latent_dim and "latent_dim" in cls.__dataclass_fields__:
        fields["latent_dim"] = args.latent_dim
    if args.features:
        names = cls.__dataclass_fields__
        for key in ("g_features", "d_features", "features"):
            if key in names:
                fields[key] = args.features
    try:
        return cls(**fields)
    except ValueError as exc:
        raise BadInputError(str(exc)) from exc


def run_train(args: argparse.Namespace) -> int:
    from aigc.core.seed import seed_everything
    from aigc.data.images import load_image_source
    from aigc.train import Trainer
    from aigc.train.report import report_training

    data = load_image_source(args.data, split=args.split, image_size=args.image_size,
                             channels=args.channels, skip_bad=args.skip_bad)
    if data.skipped:
        print(f"skipped {len(data.skipped)} unreadable file(s), e.g. {data.skipped[0]}")
    model_cfg = _model_config(args, data.images.shape[1], data)
    apply_arch_defaults(args, architecture(TASK, args.arch))
    seed_everything(args.seed)  # network initialisation
    objective = architecture(TASK, args.arch)(model_cfg)
    meta = {"task": TASK, "architecture": args.arch, "data": data.spec()}
    trainer = Trainer(objective, train_config_from_args(args), args.out, meta=meta, resume=args.resume)
    tensors = {"images": data.images}
    if getattr(model_cfg, "num_classes", 0):
        tensors["labels"] = data.labels
    summary = trainer.fit(tensors)
    if trainer.dist.is_main:
        report_training(summary, args.arch, args.out)
    return 0


def generate_parser(model_dir: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"aigc generate {model_dir}",
                                description="Sample new images from an image-generation model.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=positive_int, default=64, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="same seed, same images")
    p.add_argument("--out", default="samples.png", help="a .png grid, or a folder for one PNG per image")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--device", default="auto")
    add_sampling_args(p)
    p.set_defaults(func=lambda a: run_generate(model_dir, a))
    return p


def run_generate(model_dir: str, args: argparse.Namespace) -> int:
    import aigc

    pipe = aigc.load(model_dir, device=args.device)
    options = sampling_kwargs(pipe, args)
    images = pipe.generate(args.n, seed=args.seed, batch_size=args.batch_size, **options)
    paths = pipe.save(images, args.out, seed=args.seed, n=args.n,
                      **{k: v for k, v in options.items() if v is not None})
    print(f"wrote {len(images)} image(s) to {paths[0] if len(paths) == 1 else args.out}")
    return 0
