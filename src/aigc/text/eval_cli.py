"""``aigc eval text``: BLEU, self-BLEU and distinct-n of generated text, and a text model's perplexity."""

from __future__ import annotations

import argparse
from pathlib import Path

from aigc.core.cli_args import add_device_arg, add_seed_arg
from aigc.core.errors import BadInputError

__all__ = ["add_eval_text"]

TEXT_HELP = """metrics:
  bleu       sacrebleu corpus BLEU of the hypotheses against the references (0-100)
  self_bleu  mean BLEU of each hypothesis against the others: higher = less diverse
  distinct_n unique n-grams / all n-grams over the hypotheses: higher = more diverse
  perplexity exp(mean negative log-likelihood per token) of --model on --data: lower = better"""


def _read_lines(path: str, errors: str) -> list[str]:
    from aigc.text.corpus import read_text_file

    if Path(path).is_dir():
        raise BadInputError(f"{path}: is a directory; give a text file with one text per line")
    return read_text_file(path, errors).splitlines()


def _run_text(args: argparse.Namespace) -> int:
    from aigc.metrics.cli import emit_report
    from aigc.metrics.evaluate import evaluate_text

    if not args.hyps and not args.model:
        raise BadInputError("eval text: give --hyps FILE (BLEU, distinct-n) and/or --model DIR --data FILE (perplexity)")
    report: dict = {}
    if args.hyps:
        hyps = _read_lines(args.hyps, args.errors)
        refs = [_read_lines(r, args.errors) for r in args.refs] if args.refs else None
        report.update({"hyps": args.hyps, "refs": args.refs,
                       **evaluate_text(hyps, refs, orders=args.orders, self_bleu_max=args.self_bleu_max,
                                       seed=args.seed)})
    if args.model:
        if not args.data:
            raise BadInputError("eval text: --model needs --data FILE (held-out UTF-8 text)")
        from aigc.text.evaluate import perplexity

        report["perplexity"] = perplexity(args.model, args.data, errors=args.errors, device=args.device)
    emit_report(report, args.json)
    return 0


def add_eval_text(sub: argparse._SubParsersAction) -> None:
    from aigc.metrics.cli import eval_formatter

    p = sub.add_parser("text", help="BLEU, self-BLEU and distinct-n of generated text; perplexity of a model",
                       description="Score generated text (one text per line). Example: aigc eval text "
                                   "--hyps samples.txt --refs refs.txt",
                       epilog=TEXT_HELP, formatter_class=eval_formatter)
    p.add_argument("--hyps", help="generated texts, one per line (UTF-8)")
    p.add_argument("--model", help="a text model directory: report its perplexity on --data")
    p.add_argument("--data", help="held-out UTF-8 text file for --model's perplexity")
    add_device_arg(p)
    p.add_argument("--refs", nargs="+", help="reference file(s), line-aligned with --hyps (for BLEU)")
    p.add_argument("--orders", type=int, nargs="+", default=[1, 2, 3], help="n of distinct-n (default 1 2 3)")
    p.add_argument("--self-bleu-max", type=int, default=500, help="texts sampled for self-BLEU (default 500)")
    add_seed_arg(p, "seed for the self-BLEU sample")
    p.add_argument("--errors", choices=["strict", "replace"], default="strict",
                   help="invalid UTF-8: stop naming file and byte offset (strict), or replace it")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    p.set_defaults(func=_run_text)
