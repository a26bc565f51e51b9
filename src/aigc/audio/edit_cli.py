"""``aigc audio edit IN OUT --gain -3 --highpass 80 ...``: effects applied in the order given."""

from __future__ import annotations

import argparse
import functools
import re
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["add_audio", "add_edit", "run_edit"]

# (flag, metavar, takes an optional value, help)
_FLAGS: list[tuple[str, str, bool, str]] = [
    ("gain", "DB", False, "change the level by DB decibels, e.g. -3"),
    ("highpass", "HZ[:ORDER]", False, "Butterworth high-pass (order 4 = 24 dB/octave), e.g. 80"),
    ("lowpass", "HZ[:ORDER]", False, "Butterworth low-pass, e.g. 6000"),
    ("eq", "HZ:DB[:Q]", False, "RBJ peaking equaliser, e.g. 1000:+3:1.0"),
    ("compress", "SPEC", True, ("compressor THRESH_DB:RATIO[:ATTACK_MS:RELEASE_MS:MAKEUP_DB] or "
                               "threshold=-20,ratio=4,attack=10,release=100,makeup=0 (these defaults "
                               "when bare)")),
    ("reverb", "AMOUNT[:RT60]", False, "convolution reverb, AMOUNT 0..1 wet share, RT60 s (1.2)"),
    ("pitch", "SEMITONES", False, "shift pitch keeping the duration, e.g. +2"),
    ("speed", "FACTOR", False, "play FACTOR times faster keeping the pitch, e.g. 1.1"),
    ("denoise", "METHOD", True, ("stationary-noise reduction: wiener (default: decision-directed "
                                   "soft gate) or gate (noisereduce's binary spectral gate)")),
    ("normalize", "LUFS", True, "set the integrated loudness (ITU-R BS.1770), e.g. -16LUFS (default)"),
    ("trim-silence", "DBFS", True, "cut leading/trailing audio quieter than DBFS (-50)"),
    ("fade", "IN[:OUT]", False, "linear fade-in and fade-out in seconds, e.g. 0.05"),
]

_DESCRIPTION = """\
Apply audio effects to a file, in the order they are given on the command line. Long files
stream block by block in bounded memory; --normalize, --trim-silence and --denoise add one
measuring pass each. The output keeps the input's sample rate and sample format, is written
atomically, and carries the effect chain as JSON in its comment. Give IN and OUT first: the flags
whose value is optional (--compress, --denoise, --normalize, --trim-silence) would take the next word.

Neighbouring effects that are one operation run as one: gains, filters and EQs next to each other
as one cascade of biquads (a linear, time-invariant system: the same result), and --pitch/--speed
next to each other as one phase-vocoder stretch plus one resampling (ideal pitch and tempo
changes commute and compose, so this is the change asked for, with one vocoder's artefacts
instead of two). Effects compute in float32 unless --precision float64 is given.

example:
  aigc audio edit talk.wav talk_clean.wav --highpass 80 --denoise --compress --normalize -16LUFS --fade 0.05
  aigc audio edit song.flac faster.flac --speed 1.1 --pitch -1 --reverb 0.2"""


class _Chain(argparse.Action):
    """Append ``(effect, text)`` to ``namespace.chain`` so the order on the command line is kept."""

    def __init__(self, option_strings: Sequence[str], dest: str, effect: str = "", **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.effect = effect

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        chain = list(getattr(namespace, self.dest, None) or [])
        chain.append((self.effect, values))
        setattr(namespace, self.dest, chain)


def add_edit(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("edit", help="apply effects to an audio file", description=_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    # Values such as -16LUFS or -20:4 start with a minus: read them as values, not as flags.
    p._negative_number_matcher = re.compile(r"^-\.?\d")
    p.add_argument("input", metavar="IN", help="audio file to read (WAV, FLAC, OGG, ...)")
    p.add_argument("output", metavar="OUT", help="file to write; the format follows its extension")
    fx = p.add_argument_group("effects (applied in the order given; each may repeat)")
    for flag, metavar, optional, text in _FLAGS:
        fx.add_argument(f"--{flag}", dest="chain", metavar=metavar, help=text, nargs="?" if optional else None,
                        action=functools.partial(_Chain, effect=flag))
    p.add_argument("--overwrite-input", action="store_true", help="allow OUT to be IN (replaced atomically)")
    p.add_argument("--block", type=int, default=65536, help="frames per block (memory vs. speed; 65536)")
    p.add_argument("--precision", choices=("float32", "float64"), default="float32",
                   help="arithmetic of the effects: float32 (default, faster) or float64 (as the "
                        "reference functions; e.g. --precision float64 to compare with them)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run_edit, chain=None)
    return p


def add_audio(subparsers: argparse._SubParsersAction) -> None:
    """``aigc audio``: audio file tools (``edit``)."""
    p = subparsers.add_parser("audio", help="audio file tools (edit)",
                              description="Audio file tools. Example: aigc audio edit in.wav out.wav "
                                          "--gain -3 --normalize -16LUFS")
    sub = p.add_subparsers(dest="audio_command", metavar="COMMAND", required=True)
    add_edit(sub)


def run_edit(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from aigc.audio.edit import count_passes, edit_file, parse_effect, probe
    from aigc.core.errors import BadInputError

    chain = [parse_effect(name, text) for name, text in args.chain or []]
    if args.block < 256:
        raise BadInputError(f"--block {args.block}: use at least 256 frames")
    frames, sr, _ = probe(args.input)
    bar = tqdm(total=frames * count_passes(chain), unit="frame", unit_scale=True, leave=False,
               file=sys.stderr, disable=True if args.quiet else None, desc="edit")
    try:
        report = edit_file(args.input, args.output, chain, overwrite_input=args.overwrite_input,
                           block=args.block, progress=bar.update, precision=args.precision)
    finally:
        bar.close()
    if report["clipped"]:
        print(f"aigc: warning: {report['clipped']} samples clipped at full scale; lower --gain or "
              "--normalize", file=sys.stderr)
    if not args.quiet:
        print(f"wrote {args.output} ({report['frames_out'] / sr:.2f} s, {len(chain)} effects, "
              f"{report['passes']} pass{'es' if report['passes'] > 1 else ''})")
    return 0
