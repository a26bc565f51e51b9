"""``aigc data``: dataset tooling. ``aigc data clean SRC --out DST --report report.html``.

Light at import time: argparse only (the ``aigc --help`` path)."""

from __future__ import annotations

import argparse
import importlib.util
import json
from typing import Any

__all__ = ["add_data", "run_clean"]


def _range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give LOW,HIGH such as 1,5; got {text!r}") from None
    if not lo < hi:
        raise argparse.ArgumentTypeError(f"LOW must be below HIGH, got {text!r}")
    return lo, hi


def add_data(subparsers: argparse._SubParsersAction, argv: list[str] | None = None) -> None:
    from aigc.core.cli_args import HelpFormatter

    p = subparsers.add_parser("data", help="dataset tooling: clean (and anonymize) a dataset",
                              description="Dataset tooling. Example: aigc data clean raw/ --out clean/ "
                                          "--report report.html")
    sub = p.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    c = sub.add_parser(
        "clean", help="drop broken, duplicate and outlying files or records; SRC is never changed",
        formatter_class=HelpFormatter,
        description="Copy SRC to --out without what is broken or redundant: images (unreadable, exact and "
                    "near duplicates by perceptual hash, blank, size/aspect outliers), text (encoding "
                    "repair, NFC, duplicate and near-duplicate lines or paragraphs), audio (corrupt, silent, "
                    "clipped, wrong sample rate) and CSV tables (missing values, type errors, out-of-range "
                    "ratings, duplicates). Kept files are hard links where possible. "
                    "Example: aigc data clean photos/ --out photos-clean/ --report report.html")
    c.add_argument("src", help="folder (or one .txt/.csv file) to clean; it is only read")
    c.add_argument("--out", required=True, help="new folder for the kept data")
    c.add_argument("--report", metavar="HTML", help="write an HTML report (thumbnails, reasons) here")
    c.add_argument("--near-bits", type=int, default=5, help="images: pHash distance (of 64 bits) of a near duplicate")
    c.add_argument("--area-ratio", type=float, default=4.0, help="images: pixel count vs median beyond which an image is a size outlier")
    c.add_argument("--aspect-ratio", type=float, default=2.0, help="images: aspect vs median beyond which an image is an aspect outlier")
    c.add_argument("--near-jaccard", type=float, default=0.8, help="text: 5-gram Jaccard of a near-duplicate line/paragraph")
    c.add_argument("--sample-rate", type=int, default=None, help="audio: expected rate in Hz (default: the most common)")
    c.add_argument("--rating-range", type=_range, default=(0.5, 5.0), metavar="LOW,HIGH", help="tables: allowed ratings")
    c.add_argument("--json", action="store_true", help="print the summary as JSON")
    c.set_defaults(func=run_clean)
    if importlib.util.find_spec("aigc.tools.privacy") is not None and \
            importlib.util.find_spec("aigc.tools.privacy.anonymize") is not None:
        from aigc.tools.privacy.anonymize import add_anonymize

        add_anonymize(sub)


def run_clean(args: argparse.Namespace) -> int:
    from aigc.data.clean import Rules, clean
    from aigc.data.clean.audio import AudioRules
    from aigc.data.clean.images import ImageRules
    from aigc.data.clean.tables import TableRules
    from aigc.data.clean.text import TextRules

    rules = Rules(images=ImageRules(near_bits=args.near_bits, area_ratio=args.area_ratio, aspect_ratio=args.aspect_ratio),
                  text=TextRules(near_jaccard=args.near_jaccard), audio=AudioRules(sample_rate=args.sample_rate),
                  tables=TableRules(rating_range=args.rating_range))
    result = clean(args.src, args.out, report=args.report, rules=rules)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for kind, s in result["kinds"].items():
        _print_kind(kind, s)
    print(f"kept data in {result['out']} ({result['method']}); {result['src']} is unchanged"
          + (f"; report: {result['report']}" if result["report"] else ""))
    return 0


def _print_kind(kind: str, s: dict[str, Any]) -> None:
    dropped = ", ".join(f"{k} {v}" for k, v in s["dropped"].items()) or "nothing"
    repaired = ", ".join(f"{k} {v}" for k, v in s["repaired"].items())
    print(f"{kind}: kept {s['kept']} of {s['scanned']}; dropped {dropped}" + (f"; repaired {repaired}" if repaired else ""))
