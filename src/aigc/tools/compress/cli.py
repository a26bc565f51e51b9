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
                    "original: int8 Linear layers (fast CPU kernels), fp16/bf16 weights, magnitude pruning "
                    "(--structured removes whole hidden units/channels, so the tensors shrink), fine-tuning after "
                    "pruning, or a smaller student distilled from the model (--distill-to). Training stages run the "
                    "task's own training on the data recorded in the model's config.json. Size, latency (median ms "
                    "at batch 1 and batched) and the task's quality metric (Task.quality on --eval-data: text "
                    "perplexity, restore RMSE) are measured before and after; --max-quality-loss refuses to write "
                    "a worse model. Example: aigc compress runs/char-gpt --prune 0.5 --structured "
                    "--finetune-steps 200 --quantize int8 --eval-data val.txt --max-quality-loss 1% "
                    "--report compress.json --out runs/char-gpt-small")
    p.add_argument("model", help="model directory to compress (only read)")
    p.add_argument("--out", required=True, help="new model directory")
    p.add_argument("--quantize", choices=["int8", "fp16", "bf16"], default=None, help="weight format")
    p.add_argument("--prune", type=_fraction, default=None, metavar="FRACTION",
                   help="zero this fraction of the smallest weights of each layer, e.g. 0.5")
    p.add_argument("--structured", action="store_true",
                   help="--prune removes this share of whole output units/channels (ranked by weight norm), "
                        "shrinking the tensors, e.g. --prune 0.5 --structured")
    p.add_argument("--prune-norm", type=float, choices=[1.0, 2.0], default=2.0, metavar="N",
                   help="rank units by their weights' L1 or L2 norm (--structured), e.g. --prune-norm 1")
    p.add_argument("--finetune-steps", type=int, default=0, metavar="N",
                   help="train the pruned model (or the --distill-to student) N steps, e.g. 200")
    p.add_argument("--finetune-lr", type=float, default=None, metavar="LR",
                   help="learning rate of those steps (default: the model's own), e.g. 3e-4")
    p.add_argument("--finetune-data", default=None, metavar="DATA",
                   help="train on this instead of the data recorded in the model's config.json")
    p.add_argument("--distill-to", default=None, metavar="CONFIG",
                   help="distil into a student with these model settings: key=value,... or a JSON file, "
                        "e.g. --distill-to layers=2,embed=64")
    p.add_argument("--distill-loss", choices=["kl", "mse"], default=None,
                   help="compare outputs by KL of the softmax or by squared error (default: kl for "
                        "models that output logits, mse otherwise)")
    p.add_argument("--distill-alpha", type=float, default=0.5, metavar="A",
                   help="weight of the distillation loss; 1 - A weighs the task's own loss, e.g. 0.9")
    p.add_argument("--latency-runs", type=int, default=20, metavar="N",
                   help="timed forward passes per latency figure, after warm-up (0: skip), e.g. 50")
    p.add_argument("--latency-batch", type=int, default=16, metavar="B", help="batch of the batched latency")
    p.add_argument("--report", default=None, metavar="FILE", help="also write the report as JSON to FILE")
    p.add_argument("--max-quality-loss", type=_fraction, default=None, metavar="LOSS",
                   help="refuse when the quality metric gets worse by more than this, e.g. 1%%")
    p.add_argument("--eval-data", metavar="FILE", default=None, help="held-out data for the quality metric")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_compress)


def run_compress(args: argparse.Namespace) -> int:
    from aigc.tools.compress.core import compress

    report = compress(args.model, args.out, quantize=args.quantize, prune=args.prune, structured=args.structured,
                      norm=args.prune_norm, finetune_steps=args.finetune_steps, finetune_lr=args.finetune_lr,
                      finetune_data=args.finetune_data, distill_to=args.distill_to, distill_loss=args.distill_loss,
                      distill_alpha=args.distill_alpha,
                      max_quality_loss=args.max_quality_loss, eval_data=args.eval_data,
                      latency_runs=args.latency_runs, latency_batch=args.latency_batch)
    if args.report:
        from aigc.core.atomic import atomic_write_json

        atomic_write_json(args.report, json.loads(json.dumps(report, default=str)))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    b, a = report["before"], report["after"]
    line = f"{args.out}: {b['size_bytes'] / 1e6:.2f} MB -> {a['size_bytes'] / 1e6:.2f} MB ({report['size_ratio']:.2f}x smaller)"
    if report["quality_loss"] is not None:
        line += f"; {b['metric']} {b['quality']:.4g} -> {a['quality']:.4g} ({100 * report['quality_loss']:+.2f} %)"
    if "latency_ms_batch1" in b and "latency_ms_batch1" in a:
        line += f"; batch-1 latency {b['latency_ms_batch1']:.3g} -> {a['latency_ms_batch1']:.3g} ms"
    print(line)
    return 0
