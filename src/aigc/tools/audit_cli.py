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
    p = sub.add_parser("robustness", help="clean and robust accuracy of a classifier under attack",
                       formatter_class=_FMT,
                       description="Attack a classifier (any model whose objective classifies) with FGSM, PGD "
                                   "or APGD-CE and print clean and robust accuracy. Example: aigc audit robustness "
                                   "runs/mnist --eps 0.3 --attack pgd-100 --restarts 2 --curve 0,0.1,0.2,0.3 "
                                   "--pictures audit/")
    p.add_argument("model_dir", help="a classifier model directory")
    p.add_argument("--eps", type=float, default=0.3, help="attack radius (pixels in [0, 1])")
    p.add_argument("--attack", default="pgd-40", help="fgsm, pgd-STEPS or apgd-STEPS")
    p.add_argument("--norm", choices=["linf", "l2"], default="linf", help="threat model")
    p.add_argument("--restarts", type=positive_int, default=1, help="random restarts (PGD, APGD)")
    p.add_argument("--data", default=None, help="labelled image source (default: the model's training source)")
    p.add_argument("--split", choices=["train", "test", "all"], default="test")
    p.add_argument("--n", type=bounded_int(1, 1_000_000), default=1000, help="examples attacked (random subset)")
    p.add_argument("--curve", type=_floats, default=None, metavar="EPS,...", help="also the accuracy at these eps")
    p.add_argument("--pictures", default=None, metavar="DIR",
                   help="write examples.png (originals over adversarial images) and curve.png here")
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

    from aigc.core.errors import BadInputError
    from aigc.tools.robust.attacks import parse_attack
    from aigc.tools.robust.audit import (
        audit_robustness,
        labelled_images,
        load_classifier,
        save_curve,
        save_examples,
    )

    parse_attack(args.attack)
    if args.eps < 0:
        raise BadInputError(f"--eps must be >= 0, got {args.eps}")
    pipe, f = load_classifier(args.model_dir, args.device)
    x, y = labelled_images(pipe, args.data, args.split, args.n, args.seed)
    report, adv = audit_robustness(f, x, y, attack=args.attack, eps=args.eps, curve=args.curve or (),
                                   norm=args.norm, restarts=args.restarts, seed=args.seed, device=pipe.device)
    report = {"model_id": pipe.model_id, **report}
    if args.pictures:
        folder = Path(args.pictures)
        report["pictures"] = [str(save_examples(x, adv, folder / "examples.png", recipe=pipe.recipe(
            seed=args.seed, attack=args.attack, eps=args.eps, norm=args.norm)))]
        if args.curve:
            report["pictures"].append(str(save_curve(report["curve"], folder / "curve.png",
                                                     f"{args.attack} ({args.norm}), {pipe.model_id}")))
    _finish(report, args)
    return 0


def _add_privacy(sub: Any) -> None:
    p = sub.add_parser("privacy", help="membership inference and copy detection", formatter_class=_FMT,
                       description="Does the model remember its training data? A membership-inference attack "
                                   "(loss threshold, and a likelihood ratio fitted on half of each set) scores "
                                   "training examples against held-out ones: AUC near 0.5 and TPR at 1%% FPR near "
                                   "0.01 mean no leak. For generators, the nearest-neighbour distance of samples "
                                   "to training vs held-out data (copies sit closer to training). Example: "
                                   "aigc audit privacy runs/mnist --data train --holdout test --pictures audit/")
    p.add_argument("model_dir", help="a model directory")
    p.add_argument("--data", default="train", help="the members: a split of the model's source (train) or a source")
    p.add_argument("--holdout", default="test", help="the non-members: a split (test) or another source")
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
                           samples=args.samples, pictures=args.pictures, seed=args.seed, device=args.device)
    _finish(report, args)
    return 0
