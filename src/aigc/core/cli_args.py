"""Command-line options shared by every command, defined once with one default each.

Nothing heavy is imported here (``aigc --help`` must stay fast).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

__all__ = ["positive_int", "bounded_int", "add_inference_args", "add_device_arg", "add_seed_arg", "progress_enabled", "explicit_dests", "DEFAULT_DEVICE", "HelpFormatter",
           "DEVICE_HELP"]

DEFAULT_DEVICE = "auto"
DEVICE_HELP = "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def bounded_int(low: int, high: int):
    """An argparse type for whole numbers in [low, high] (size guards for user-typed counts)."""

    def parse(text: str) -> int:
        value = positive_int(text) if low >= 1 else int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a number from {low} to {high}, got {value}")
        return value

    parse.__name__ = f"int in [{low}, {high}]"
    return parse


def add_inference_args(p: argparse.ArgumentParser, *, out: str | None, out_help: str,
                       seed: bool = True) -> None:
    """``--out``, ``--seed``, ``--device`` and ``--no-progress`` for commands that write outputs.

    ``out=None`` makes ``--out`` required.
    """
    g = p.add_argument_group("output and reproducibility (shared by every command)")
    if out is None:
        g.add_argument("--out", required=True, help=out_help)
    else:
        g.add_argument("--out", default=out, help=f"{out_help} (default {out})")
    if seed:
        add_seed_arg(g)
    add_device_arg(g)
    g.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (it is also off when stderr is not a terminal)")
    g.add_argument("--no-watermark", dest="watermark", action="store_false",
                   help="leave out the invisible watermark (on by default; `aigc verify FILE` finds it)")


def add_device_arg(p: Any, help: str | None = None) -> None:
    """``--device``, the same flag and default for every command."""
    p.add_argument("--device", default=DEFAULT_DEVICE,
                   help=f"{help + ': ' if help else ''}{DEVICE_HELP} (default {DEFAULT_DEVICE})")


def add_seed_arg(p: Any, help: str = "same seed, same output") -> None:
    """``--seed``, the same flag and default for every command."""
    p.add_argument("--seed", type=int, default=0, help=f"{help} (default 0)")


def progress_enabled(args: argparse.Namespace) -> bool:
    """Show progress unless ``--no-progress`` was given or stderr is not a terminal."""
    flag = getattr(args, "progress", None)
    return flag is not False and sys.stderr.isatty()


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` only where there is a default worth reading and the help has none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return super()._get_help_string(action)


def explicit_dests(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The destinations the user gave on the command line (defaults suppressed, parsed again)."""
    saved = [(a, a.default) for a in parser._actions]
    saved_defaults = dict(parser._defaults)
    try:
        for action, _ in saved:
            action.default = argparse.SUPPRESS
        parser._defaults.clear()
        namespace, _ = parser.parse_known_args(list(argv))
    finally:
        for action, default in saved:
            action.default = default
        parser._defaults.update(saved_defaults)
    return set(vars(namespace))
