"""``aigc audit``: ``robustness`` (adversarial attacks on any classifier) and ``privacy``
(membership inference and copy detection on any model). Nothing heavy is imported here."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from aigc.core.cli_args import add_device_arg, add_seed_arg, bounded_int, positive_int

__all__ = ["add_audit"]

_FMT = argparse.ArgumentDefaultsHelpFormatter


def add_audit(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    p = subparsers.add_parser("audit", help="audit a model: adversarial robustness, membership privacy",
                              description="Audit a trained model. Example: aigc audit robustness runs/mnist "
                                          "--eps 0.3 --attack pgd-100")
    sub = p.add_subparsers(dest="audit_kind", metavar="KIND", required=True)
    _add_robustness(sub)
    _add_privacy(sub)


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 0,0.1,0.2, got {text!r}") from None


def _add_robustness(sub: Any) -> None:
    p = sub.add_parser("robustness", help="clean and robust accuracy of a classifier under attack; "
                                          "PSNR/SSIM of a restoration model under unseen corruptions",
                       formatter_class=_FMT,
                       description="Attack a classifier (any model whose objective classifies) with FGSM, PGD "
                                   "or APGD-CE and print clean and robust accuracy. Example: aigc audit robustness "
                                   "runs/mnist --eps 0.3 --attack pgd-100 --restarts 2 --curve 0,0.1,0.2,0.3 "
                                   "--pictures audit/. For a restoration model (denoising, super-resolution) it "
                                   "prints PSNR and SSIM under noise levels, JPEG and blur it was not trained on, "
                                   "beside the corrupted input (or bicubic): aigc audit robustness runs/dncnn "
                                   "--data denoise-benchmarks/BSD68 --noise 15,25,50 --jpeg 75,50,30 --blur 1,2 "
                                   "--pictures audit/")
    p.add_argument("model_dir", help="a classifier or restoration model directory")
    p.add_argument("--eps", type=float, default=0.3, help="attack radius (pixels in [0, 1], wave samples in [-1, 1])")
    p.add_argument("--attack", default="pgd-40", help="fgsm, pgd-STEPS or apgd-STEPS")
    p.add_argument("--norm", choices=["linf", "l2"], default="linf", help="threat model")
    p.add_argument("--restarts", type=positive_int, default=1, help="random restarts (PGD, APGD)")
    p.add_argument("--data", default=None, help="labelled image or audio source (default: the model's training source); "
                                                "restoration: a folder of clean test images")
    p.add_argument("--split", choices=["train", "test", "all"], default="test")
    p.add_argument("--n", type=bounded_int(1, 1_000_000), default=1000, help="examples attacked (random subset)")
    p.add_argument("--curve", type=_floats, default=None, metavar="EPS,...", help="also the accuracy at these eps")
    p.add_argument("--pictures", default=None, metavar="DIR",
                   help="write examples.png (originals over adversarial images) and curve.png here; "
                        "restoration: strip.png (corrupted inputs over the model's outputs)")
    r = p.add_argument_group("restoration models")
    r.add_argument("--noise", type=_floats, default="5,15,25,35,50,75", metavar="SIGMA,...",
                   help="Gaussian noise levels (0-255 scale)")
    r.add_argument("--jpeg", type=_floats, default="75,50,30", metavar="Q,...", help="JPEG qualities")
    r.add_argument("--blur", type=_floats, default="1,2", metavar="SIGMA,...", help="Gaussian blur sigmas (pixels)")
    r.add_argument("--crop", type=bounded_int(8, 100_000), default=256, help="centre crop of each image (pixels)")
    add_seed_arg(p)
    add_device_arg(p)
    p.add_argument("--out", default=None, help="also write the report as JSON here")
    p.set_defaults(func=run_robustness)


def _finish(report: dict, args: argparse.Namespace) -> None:
    print(json.dumps(report, indent=2))
    if args.out:
        from aigc.core.atomic import atomic_write_json

        atomic_write_json(args.out, report)
        print(f"wrote {args.out}", file=sys.stderr)


def run_robustness(args: argparse.Namespace) -> int:
    from pathlib import Path

    import aigc
    from aigc.core.errors import BadInputError
    from aigc.tools.robust.attacks import parse_attack
    from aigc.tools.robust.audit import (
        audit_robustness,
        labelled_examples,
        load_classifier,
        save_curve,
        save_examples,
    )
    from aigc.train.objective import Restores

    pipe = aigc.load(args.model_dir, device=args.device)
    if isinstance(pipe.objective, Restores):
        return run_restoration(args, pipe)
    parse_attack(args.attack)
    if args.eps < 0:
        raise BadInputError(f"--eps must be >= 0, got {args.eps}")
    pipe, f = load_classifier(args.model_dir, args.device, pipe=pipe)
    x, y, bounds = labelled_examples(pipe, args.data, args.split, args.n, args.seed)
    report, adv = audit_robustness(f, x, y, attack=args.attack, eps=args.eps, curve=args.curve or (),
                                   norm=args.norm, restarts=args.restarts, seed=args.seed, device=pipe.device,
                                   bounds=bounds)
    report = {"model_id": pipe.model_id, "input_bounds": list(bounds), **report}
    if args.pictures:
        folder = Path(args.pictures)
        report["pictures"] = [str(save_examples(x, adv, folder / "examples.png", recipe=pipe.recipe(
            seed=args.seed, attack=args.attack, eps=args.eps, norm=args.norm)))] if x.ndim == 4 else []
        if args.curve:
            report["pictures"].append(str(save_curve(report["curve"], folder / "curve.png",
                                                     f"{args.attack} ({args.norm}), {pipe.model_id}")))
    _finish(report, args)
    return 0


def run_restoration(args: argparse.Namespace, pipe: Any = None) -> int:
    """The restoration table on stdout; the report as JSON with --out; strip.png with --pictures."""
    from pathlib import Path

    from aigc.core.errors import BadInputError
    from aigc.tools.robust.restoration import (
        format_table,
        load_restorer,
        parse_corruptions,
        read_images,
        restoration_table,
        save_strip,
    )

    corruptions = parse_corruptions(args.noise, args.jpeg, args.blur)
    pipe = load_restorer(args.model_dir, args.device, pipe=pipe)
    data = args.data or pipe.config.get("data", {}).get("source")
    if not data:
        raise BadInputError(f"{args.model_dir}: config.json names no data; pass --data FOLDER of clean test images")
    channels = int(pipe.config.get("model", {}).get("channels", 3))
    scale = int(pipe.config.get("model", {}).get("scale", 1))
    images = read_images(data, channels=channels, n=args.n, crop=args.crop, multiple=scale)
    report, strip = restoration_table(pipe, images, corruptions, seed=args.seed)
    report["data"] = data
    if args.pictures:
        report["pictures"] = [str(save_strip(strip, Path(args.pictures) / "strip.png",
                                             pipe.recipe(seed=args.seed, audit="restoration robustness")))]
    print(format_table(report))
    if args.out:
        from aigc.core.atomic import atomic_write_json

        atomic_write_json(args.out, report)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _add_privacy(sub: Any) -> None:
    p = sub.add_parser("privacy", help="membership inference and copy detection", formatter_class=_FMT,
                       description="Does the model remember its training data? A membership-inference attack "
                                   "(loss threshold, and a likelihood ratio fitted on half of each set) scores "
                                   "training examples against held-out ones: AUC near 0.5 and TPR at 1%% FPR near "
                                   "0.01 mean no leak. For generators, the nearest-neighbour distance of samples "
                                   "to training vs held-out data (copies sit closer to training). Example: "
                                   "aigc audit privacy runs/mnist --data train --holdout test --pictures audit/. "
                                   "Language models score each line (or window) of two text files by the model's "
                                   "loss, also calibrated by its zlib size: aigc audit privacy runs/char-gpt "
                                   "--data train.txt --holdout test.txt")
    p.add_argument("model_dir", help="a model directory")
    p.add_argument("--data", default="train", help="the members: a split of the model's source (train) or a "
                                                   "source; language models: a text file")
    p.add_argument("--holdout", default="test", help="the non-members: a split (test) or another source; "
                                                     "language models: a text file")
    p.add_argument("--unit", choices=["line", "window"], default="line",
                   help="language models: score each non-empty line, or each window of context+1 tokens")
    p.add_argument("--source", default=None, help="image source of both (default: the model's training source)")
    p.add_argument("--n", type=bounded_int(10, 1_000_000), default=1000, help="examples drawn from each set")
    p.add_argument("--samples", type=bounded_int(1, 100_000), default=500, help="generated samples (generators)")
    p.add_argument("--pictures", default=None, metavar="DIR", help="write closest_pairs.png here (generators)")
    add_seed_arg(p)
    add_device_arg(p)
    p.add_argument("--out", default=None, help="also write the report as JSON here")
    p.set_defaults(func=run_privacy)


def run_privacy(args: argparse.Namespace) -> int:
    from aigc.tools.privacy.membership import audit_privacy

    report = audit_privacy(args.model_dir, members=args.data, holdout=args.holdout, source=args.source, n=args.n,
                           samples=args.samples, pictures=args.pictures, seed=args.seed, device=args.device,
                           unit=args.unit)
    _finish(report, args)
    return 0
