"""``aigc train classify`` flags, ``aigc classify MODEL IMAGE...`` and ``aigc eval classify``.
Nothing heavy is imported at module level (``aigc --help`` stays fast)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from aigc.core.cli_args import add_device_arg, positive_int

__all__ = ["add_classify", "add_eval_classify", "add_train_args"]

_FMT = argparse.ArgumentDefaultsHelpFormatter


def _widths(text: str) -> tuple[int, int]:
    parts = text.replace(",", " ").split()
    if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise argparse.ArgumentTypeError(f"expected two channel counts like 16,32, got {text!r}")
    return int(parts[0]), int(parts[1])


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The classify task's own flags (the loop's --out --steps --lr ... come from the core)."""
    p.add_argument("--arch", choices=["cnn"], default="cnn", help="two conv layers, a hidden layer, a linear head")
    p.add_argument("--data", default="digits",
                   help="digits (scikit-learn, embedded), mnist, fashion-mnist or folder:PATH (one sub-folder per class)")
    p.add_argument("--split", default="train", choices=["train", "test", "all"], help="which split to train on")
    p.add_argument("--image-size", type=positive_int, default=None,
                   help="square input size, a multiple of 4 (default: the data's, e.g. 8 for digits, 28 for mnist)")
    p.add_argument("--channels", type=int, choices=[1, 3], default=None, help="1 grey or 3 RGB (default: the data's)")
    p.add_argument("--widths", type=_widths, default=None, help="conv channels, e.g. 16,32 (default 16,32)")
    p.add_argument("--hidden", type=positive_int, default=None, help="hidden units before the head (default 32)")
    p.add_argument("--norm", choices=["none", "batch", "group"], default=None,
                   help="normalisation after each conv (default none; DP training converts batch to group)")
    p.add_argument("--activation", choices=["tanh", "relu"], default=None, help="default tanh")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable image files (and count them)")
    p.set_defaults(steps=500, batch_size=64, lr=1e-3)


def add_classify(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "classify", help="print the class a trained classifier sees in each image", formatter_class=_FMT,
        description="Classify image files with a `classify` model. Example: aigc classify runs/digits "
                    "seven.png three.png   (prints one line per file: file, class, confidence)")
    p.add_argument("model_dir", help="a classify model directory")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...); resized to the model's size")
    p.add_argument("--top", type=positive_int, default=3, help="classes listed per image in --out")
    p.add_argument("--out", default=None, help="also write the predictions (with the recipe) to this .json")
    add_device_arg(p)
    p.set_defaults(func=run_classify)


def run_classify(args: argparse.Namespace) -> int:
    import aigc

    pipe = aigc.load(args.model_dir, device=args.device)
    results = pipe.classify(args.images, top=args.top)
    for r in results:
        print(f"{r['file']}\t{r['class']}\t{r['confidence']:.3f}")
    if args.out:
        pipe.save(results, args.out, images=[str(p) for p in args.images], top=args.top)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def add_eval_classify(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "classify", help="accuracy and NLL of a classifier on a labelled image source", formatter_class=_FMT,
        description="Score a classify model on labelled images. Example: aigc eval classify "
                    "--model runs/digits --data digits --split test --out report.json")
    p.add_argument("--model", required=True, metavar="DIR", help="classify model directory")
    p.add_argument("--data", default=None, help="image source (default: the one it was trained on)")
    p.add_argument("--split", default="test", choices=["train", "test", "all"])
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable image files (and count them)")
    add_device_arg(p)
    p.add_argument("--out", help="also write the report as JSON here")
    p.set_defaults(func=run_eval_classify)


def run_eval_classify(args: argparse.Namespace) -> int:
    import aigc
    from aigc.classify.train import load_data
    from aigc.core.atomic import atomic_write_json

    pipe = aigc.load(args.model, device=args.device)
    source = args.data or pipe.config.get("data", {}).get("source", "digits")
    c, s, _ = pipe.image_shape
    data = load_data(source, split=args.split, image_size=s, channels=c, skip_bad=args.skip_bad)
    report: dict[str, Any] = {"model_id": pipe.model_id, "data": source, "split": args.split,
                              **pipe.evaluate(data.images, data.labels)}
    print(json.dumps(report, indent=2))
    if args.out:
        atomic_write_json(args.out, report)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
