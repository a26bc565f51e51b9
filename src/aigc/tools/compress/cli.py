"""``aigc compress MODEL --quantize int8 --out DIR`` (light at import: argparse only)."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_compress", "run_compress"]


def _fraction(text: str) -> float:
    """``1%`` or ``0.01`` -> 0.01."""
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give a fraction such as 0.01 or a percentage such as 1%, got {text!r}") from None


def add_compress(subparsers: argparse._SubParsersAction, argv: list[str] | None = None) -> None:
    from aigc.core.cli_args import HelpFormatter

    p = subparsers.add_parser(
        "compress", help="quantise or prune a model into a new model directory, behind a quality gate",
        formatter_class=HelpFormatter,
        description="Write a smaller model directory that `aigc.load` and every command serve like the "
                    "original: int8 Linear layers (fast CPU kernels), fp16/bf16 weights, or magnitude pruning. "
                    "Size and the task's quality metric (Task.quality on --eval-data: text perplexity, restore RMSE) are measured before "
                    "and after; --max-quality-loss refuses to write a worse model. "
                    "Example: aigc compress runs/char-gpt --quantize int8 --eval-data val.txt "
                    "--max-quality-loss 1% --out runs/char-gpt-int8")
    p.add_argument("model", help="model directory to compress (only read)")
    p.add_argument("--out", required=True, help="new model directory")
    p.add_argument("--quantize", choices=["int8", "fp16", "bf16"], default=None, help="weight format")
    p.add_argument("--prune", type=_fraction, default=None, metavar="FRACTION",
                   help="zero this fraction of the smallest weights of each layer, e.g. 0.5")
    p.add_argument("--max-quality-loss", type=_fraction, default=None, metavar="LOSS",
                   help="refuse when the quality metric gets worse by more than this, e.g. 1%%")
    p.add_argument("--eval-data", metavar="FILE", default=None, help="held-out data for the quality metric")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_compress)


def run_compress(args: argparse.Namespace) -> int:
    from aigc.tools.compress.core import compress

    report = compress(args.model, args.out, quantize=args.quantize, prune=args.prune,
                      max_quality_loss=args.max_quality_loss, eval_data=args.eval_data)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    b, a = report["before"], report["after"]
    line = f"{args.out}: {b['size_bytes'] / 1e6:.2f} MB -> {a['size_bytes'] / 1e6:.2f} MB ({report['size_ratio']:.2f}x smaller)"
    if report["quality_loss"] is not None:
        line += f"; {b['metric']} {b['quality']:.4g} -> {a['quality']:.4g} ({100 * report['quality_loss']:+.2f} %)"
    print(line)
    return 0
