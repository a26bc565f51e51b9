"""``aigc verify FILE [--model DIR]``: one line saying what watermark and recipe a file carries.

Exit code 0: a watermark was found; 1: none found; 2: an error (unreadable file, bad flag).
Nothing heavy is imported until the command runs.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_verify", "run_verify"]


def add_verify(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    p = subparsers.add_parser(
        "verify", help="find the invisible watermark and recipe of a file",
        description="Read the recipe embedded in FILE (if any), detect its invisible watermark and decode "
                    "the payload (the model id's first 31 bits and a flag), and say in one line what was "
                    "found and how sure: bit accuracy, z-score, p-value. Images (PNG/JPEG/WebP), audio "
                    "(WAV/OGG/FLAC), MIDI, GIF/MP4/WebM video, a folder of video frames (PNG) and text "
                    "(with --model, for the tokenizer). "
                    "Exit code 0 = found, 1 = not found, 2 = error. "
                    "Example: aigc verify samples.png --model runs/dcgan")
    p.add_argument("file", help="the file (or folder of frames) to check; it may have been re-encoded, "
                                "resized or cropped")
    p.add_argument("--model", metavar="DIR", default=None,
                   help="the model directory to check the payload against (text: also its tokenizer)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON instead of one line")
    p.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from aigc.tools.provenance.verify import verify

    verdict = verify(args.file, args.model)
    print(json.dumps(verdict.to_dict(), indent=2, default=str) if args.json else verdict.line())
    return 0 if verdict.found else 1
