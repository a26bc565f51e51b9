"""``aigc eval images``, ``aigc eval restore`` and ``aigc metrics train-features`` (tasks add their
own ``aigc eval`` kinds through their Task's ``evaluators``).

Each ``add_*`` adds one parser to the given sub-parsers; handlers return an
exit code and raise :class:`BadInputError` for bad input (printed as one line by ``aigc.cli``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from aigc.core.cli_args import add_device_arg, add_seed_arg
from aigc.core.errors import BadInputError

__all__ = ["add_eval_images", "add_eval_restore", "add_metrics", "emit_report", "eval_formatter"]

IMAGE_HELP = """metrics:
  fid        Fréchet distance between Gaussians fitted to real and fake features (lower is better)
  kid        unbiased squared MMD, cubic kernel, mean ± std over subsets (≈0 for the same distribution)
  precision  share of fakes inside the real k-NN feature manifold: quality (Kynkäänniemi 2019)
  recall     share of reals inside the fake k-NN feature manifold: coverage/diversity
  inception_score  exp(E KL(p(y|x) || p(y))) from the features' classifier: 1 (collapsed) .. K
  class_coverage   class histogram of fakes, modes covered, KL to uniform (mode collapse)
features: mnist | fashion-mnist | digits (train with `aigc metrics train-features`), dir:PATH,
  inception:PATH.safetensors (FID InceptionV3 weights). Every report names the features and their sha256."""

RESTORE_HELP = """metrics:
  psnr_y   PSNR on the BT.601 Y channel, border shaved by --scale (the SR literature's convention)
  ssim_y   SSIM on the same Y channel (Gaussian window, sigma 1.5; equals scikit-image)
  psnr_rgb PSNR over the RGB channels (same shave)
  ssim_rgb mean per-channel SSIM over RGB (same shave)
Files are paired by relative path without extension."""

def eval_formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def emit_report(report: dict[str, Any], out: str | None) -> None:
    from aigc.core.atomic import atomic_write_json
    from aigc.metrics.evaluate import format_report

    print(format_report(report))
    if out:
        atomic_write_json(out, report)
        print(f"report written to {out}", file=sys.stderr)


def _load_fake(spec: str, split: str, n: int, seed: int, device: str) -> tuple[torch.Tensor, str]:
    """Images from a model directory (generated with ``seed``), a folder, or an image source spec."""
    path = Path(spec)
    if (path / "config.json").is_file():
        import aigc
        from aigc.core.modeldir import model_id

        pipe = aigc.load(str(path), device=device)
        images = pipe.generate(n, seed=seed, progress=sys.stderr.isatty())  # a diffusion model takes minutes
        return images, f"model {path} (id {model_id(path)}, seed {seed})"
    from aigc.data.images import load_image_source

    source = spec if spec.startswith("folder:") or not path.is_dir() else f"folder:{spec}"
    split = "all" if source.startswith("folder:") else split
    return load_image_source(source, split=split).images, f"{source} ({split})"


def _run_images(args: argparse.Namespace) -> int:
    from aigc.data.images import load_image_source
    from aigc.metrics.evaluate import evaluate_images, subsample
    from aigc.metrics.features import DOMAIN_FEATURES, load_feature_extractor

    features = args.features or (args.real if args.real in DOMAIN_FEATURES else None)
    if features is None:
        raise BadInputError(f"--features is needed for real images {args.real!r}: one of "
                            f"{list(DOMAIN_FEATURES)}, dir:PATH or inception:PATH")
    if args.n < 2:
        raise BadInputError(f"--n must be at least 2, got {args.n}")
    from aigc.core.device import select_device

    extractor = load_feature_extractor(features, device=select_device(args.device))
    real_spec = args.real if args.real.startswith("folder:") or not Path(args.real).is_dir() else f"folder:{args.real}"
    real_split = "all" if real_spec.startswith("folder:") else args.real_split
    real, _ = subsample(load_image_source(real_spec, split=real_split).images, args.n, args.seed)
    fake, fake_desc = _load_fake(args.fake, args.fake_split, args.n, args.seed, args.device)
    fake, _ = subsample(fake, args.n, args.seed + 1)
    report = evaluate_images(real, fake, extractor, kid_subsets=args.kid_subsets,
                             kid_subset_size=args.kid_subset_size, seed=args.seed)
    report = {"real": f"{real_spec} ({real_split})", "fake": fake_desc, **report}
    emit_report(report, args.json)
    return 0


def _run_restore(args: argparse.Namespace) -> int:
    from aigc.metrics.evaluate import evaluate_restore

    report = evaluate_restore(args.gt, args.pred, args.scale)
    emit_report({"gt": args.gt, "pred": args.pred, **report}, args.json)
    return 0


def _add_images(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("images", help="FID, KID, precision/recall, IS, class coverage of generated images",
                       description="Compare generated images with real ones in a feature space.",
                       epilog=IMAGE_HELP, formatter_class=eval_formatter)
    p.add_argument("--real", required=True, help="real images: mnist, fashion-mnist, digits, faces, folder:PATH or a folder")
    p.add_argument("--real-split", default="test", choices=("train", "test", "all"), help="split of --real (default test)")
    p.add_argument("--fake", required=True, help="a model directory (images are generated) or a folder of images")
    p.add_argument("--fake-split", default="train", choices=("train", "test", "all"),
                   help="split when --fake is a built-in source (default train: real-vs-real floor)")
    p.add_argument("--features", help="feature extractor (default: the --real name when it has domain features)")
    p.add_argument("--n", type=int, default=10000, help="images per side (default 10000)")
    add_seed_arg(p, "seed for generation, subsets and KID")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    p.add_argument("--kid-subset-size", type=int, default=1000, help="KID subset size (default 1000)")
    add_device_arg(p, "device for features and generation")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    p.set_defaults(func=_run_images)


def _add_restore(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("restore", help="PSNR and SSIM (Y channel and RGB) of restored images",
                       description="Score restored images against ground truth.",
                       epilog=RESTORE_HELP, formatter_class=eval_formatter)
    p.add_argument("--gt", required=True, help="folder of ground-truth images")
    p.add_argument("--pred", required=True, help="folder of restored images (same file names)")
    p.add_argument("--scale", type=int, default=1, help="super-resolution scale: pixels shaved off each border (default 1: none)")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    p.set_defaults(func=_run_restore)


def add_eval_images(sub: argparse._SubParsersAction) -> None:
    """``aigc eval images``."""
    _add_images(sub)


def add_eval_restore(sub: argparse._SubParsersAction) -> None:
    """``aigc eval restore``."""
    _add_restore(sub)


def _run_train_features(args: argparse.Namespace) -> int:
    from aigc.core.device import select_device
    from aigc.metrics.train_features import train_features

    meta = train_features(args.data, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          device=str(select_device(args.device)), out=args.out, progress=not args.quiet)
    print(json.dumps({k: meta[k] for k in ("name", "test_accuracy", "sha256")}, indent=2))
    return 0


def add_metrics(subparsers: argparse._SubParsersAction) -> None:
    """``aigc metrics train-features``."""
    from aigc.metrics.features import DOMAIN_FEATURES
    from aigc.metrics.train_features import TRAIN_DEFAULTS as D

    p = subparsers.add_parser("metrics", help="metric tooling: train domain feature extractors",
                              description="Metric tooling.")
    sub = p.add_subparsers(dest="metrics_command", metavar="COMMAND", required=True)
    t = sub.add_parser("train-features", help="train the domain feature CNN used by `aigc eval images`",
                       description="Train the small CNN whose features score 28x28 images (fixed seed, "
                                   "cached under the aigc cache dir as safetensors + json with its sha256).")
    t.add_argument("--data", required=True, choices=DOMAIN_FEATURES, help="labelled training data")
    t.add_argument("--steps", type=int, default=D["steps"], help=f"optimizer steps (default {D['steps']})")
    t.add_argument("--batch-size", type=int, default=D["batch_size"], help=f"batch size (default {D['batch_size']})")
    t.add_argument("--lr", type=float, default=D["lr"], help=f"Adam learning rate (default {D['lr']})")
    t.add_argument("--seed", type=int, default=D["seed"], help=f"seed (default {D['seed']})")
    add_device_arg(t, "training device (cpu gives the same features hash on every machine)")
    t.add_argument("--out", help="output folder (default: <cache>/features/<data>)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_run_train_features)
