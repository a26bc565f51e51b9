"""Scrub personal data from text corpora before training: e-mail addresses, URLs, IP addresses,
phone numbers and ID-like numbers (card, IBAN, social-security style), with counts per kind.

Order matters: e-mails before URLs (``user@host.org`` is not a URL), URLs before IPs (an IP in a
URL goes with the URL), card/IBAN numbers before phones. Placeholders are ``<EMAIL>``, ``<URL>``,
``<IP>``, ``<PHONE>`` and ``<ID>``. Plain numbers (years, prices, counts) are kept: a number
counts as a phone only with phone punctuation or a leading ``+``, and as an ID only when it has
the shape of one (>= 9 digits in groups, or letters + digits like an IBAN).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

__all__ = ["PATTERNS", "add_anonymize", "anonymize", "anonymize_file"]

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    ("URL", re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"')\]]+[^\s<>\"').,;:!?\]]")),
    ("IP", re.compile(rf"\b{_OCTET}(?:\.{_OCTET}){{3}}\b|\b(?:[0-9A-Fa-f]{{1,4}}:){{7}}[0-9A-Fa-f]{{1,4}}\b")),
    ("ID", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"  # IBAN
                      r"|\b\d{4}(?:[ -]\d{4}){3}\b"  # card number
                      r"|\b\d{3}-\d{2}-\d{4}\b")),  # US SSN shape
    ("PHONE", re.compile(r"(?:(?<![\w+])\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\b\d{2,4}(?:[ .-]\d{2,4}){1,4}\b"
                         r"|(?<![\w+])\+\d{7,14}\b")),
    ("ID", re.compile(r"\b\d{9,}\b")),
]


def _looks_like_phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    return 7 <= digits <= 15 and (text.lstrip().startswith(("+", "(")) or any(c in text for c in "-. ()"))


def anonymize(text: str) -> tuple[str, Counter]:
    """``(scrubbed text, Counter of replacements per kind)``."""
    counts: Counter = Counter()
    for kind, pattern in PATTERNS:
        def repl(m: re.Match[str], kind: str = kind) -> str:
            if kind == "PHONE" and not _looks_like_phone(m.group(0)):
                return m.group(0)
            counts[kind] += 1
            return f"<{kind}>"

        text = pattern.sub(repl, text)
    return text, counts


def anonymize_file(src: str | Path, dst: str | Path) -> Counter:
    """Scrub a UTF-8 text file into ``dst`` (written atomically); returns the counts."""
    from aigc.core.atomic import atomic_write_bytes
    from aigc.core.errors import BadInputError

    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise BadInputError(f"{src}: text file not found")
    if src.resolve() == dst.resolve():
        raise BadInputError(f"--out {dst}: give another file (the source is never changed)")
    try:
        text = src.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{src}: not UTF-8 text (byte {exc.start}); convert it to UTF-8 first") from exc
    out, counts = anonymize(text)
    atomic_write_bytes(dst, out.encode("utf-8"))
    return counts


def add_anonymize(data_subparsers: argparse._SubParsersAction) -> None:
    """``aigc data anonymize SRC --out DST``."""
    p = data_subparsers.add_parser(
        "anonymize", help="scrub e-mails, phone numbers, URLs, IPs and ID numbers from a text corpus",
        description="Replace personal data in a UTF-8 text file with placeholders (<EMAIL>, <PHONE>, <URL>, "
                    "<IP>, <ID>) and print how many of each were replaced. Example: aigc data anonymize "
                    "chats.txt --out chats.clean.txt")
    p.add_argument("src", help="UTF-8 text file (never changed)")
    p.add_argument("--out", required=True, help="the scrubbed file to write")
    p.set_defaults(func=run_anonymize)


def run_anonymize(args: argparse.Namespace) -> int:
    counts = anonymize_file(args.src, args.out)
    summary = ", ".join(f"{k.lower()} {counts.get(k, 0)}" for k in ("EMAIL", "PHONE", "URL", "IP", "ID"))
    print(f"wrote {args.out}: replaced {summary}", file=sys.stderr)
    return 0
