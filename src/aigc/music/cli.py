"""``aigc train music`` flags, ``aigc generate DIR`` for music models and ``aigc harmonize``."""

from __future__ import annotations

import argparse

from aigc.core.cli_args import (
    add_inference_args,
    bounded_int,
    positive_int,
    progress_enabled,
)

__all__ = ["add_train_args", "generate_parser", "add_harmonize"]

ARCHS = ("frame", "infill", "transformer")


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The task's own flags (destinations = :class:`~aigc.music.train.MusicSettings` fields)."""
    p.description = (
        "Train a polyphonic music model. frame = RNN-NADE (an RNN over time steps, the 88 keys of each "
        "step predicted one after another, so chords are modelled jointly); transformer = a GPT over "
        "note-on/note-off/time-shift/bar events; infill = Coconet (predicts erased voices of a "
        "four-part chorale; powers `aigc harmonize`). Example: aigc train music --arch frame "
        "--data jsb:quarter --steps 3000 --out runs/jsb-frame")
    p.add_argument("--arch", choices=ARCHS, default="frame", help="model family (default frame)")
    p.add_argument("--data", default="jsb:quarter",
                   help="jsb:quarter, jsb:8th, jsb:16th (JSB Chorales from AIGC_DATA_DIR, 229/76/77 "
                        "split) or folder:PATH (every .mid/.midi under PATH)")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable MIDI files (and count them)")
    p.add_argument("--steps-per-beat", type=bounded_int(1, 24), default=4,
                   help="time steps per quarter note when reading MIDI folders (default 4)")
    g = p.add_argument_group("model (default: the architecture's)")
    g.add_argument("--rnn", choices=["gru", "lstm"], default=None, help="frame: recurrent cell")
    g.add_argument("--hidden", type=positive_int, default=None, help="frame: RNN width")
    g.add_argument("--layers", type=positive_int, default=None, help="frame: RNN layers; transformer: blocks")
    g.add_argument("--nade-hidden", type=positive_int, default=None, help="frame: NADE hidden units")
    g.add_argument("--heads", type=positive_int, default=None, help="transformer: attention heads")
    g.add_argument("--embed", type=positive_int, default=None, help="transformer: width")
    g.add_argument("--channels", type=positive_int, default=None, help="infill: conv channels")
    g.add_argument("--blocks", type=positive_int, default=None, help="infill: residual blocks")
    g.add_argument("--context", type=positive_int, default=None,
                   help="transformer: tokens; infill: training crop in steps; frame: window in steps")
    g.add_argument("--dropout", type=float, default=None, help="dropout rate")
    g.add_argument("--transpose", type=bounded_int(0, 12), default=None,
                   help="augment with random transpositions up to this many semitones")
    g.add_argument("--crop", type=bounded_int(0, 100_000), default=None,
                   help="frame: train on random crops of this many steps (cheaper steps; 0 = whole windows)")
    # None: the architecture's default; the cosine decay (after a short warm-up) is what the frame
    # model's default lr was measured with (benchmarks/music_jsb.py)
    p.set_defaults(steps=3000, batch_size=None, lr=None, schedule="cosine", warmup=100)


def _add_sampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bars", type=bounded_int(1, 512), default=8, help="bars to generate, 4 beats each (default 8)")
    p.add_argument("--tempo", type=float, default=100.0, help="beats per minute of the MIDI/WAV output (default 100)")
    p.add_argument("--temperature", type=float, default=1.0, help="< 1 safer, > 1 wilder (default 1)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling, transformer only (default 1 = off)")
    p.add_argument("--iterations", type=positive_int, default=64, help="Gibbs rounds, infill only (default 64)")
    p.add_argument("--no-png", action="store_true", help="do not write the piano-roll picture")
    p.add_argument("--no-wav", action="store_true", help="do not write the WAV rendering")


def generate_parser(model_dir: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"aigc generate {model_dir}",
        description="Generate music: a MIDI file with the recipe in a text event, plus a piano-roll "
                    "PNG and a WAV (FluidSynth with a soundfont when installed, else a built-in "
                    "synthesiser) beside it. With --prompt, continue that "
                    f"MIDI file. Example: aigc generate {model_dir} --bars 8 --tempo 90 --seed 1 "
                    "--out chorale.mid")
    p.add_argument("--prompt", default=None, metavar="MIDI", help="continue this MIDI file (its steps are kept)")
    _add_sampling(p)
    add_inference_args(p, out="music.mid", out_help="the .mid file to write (.png and .wav beside it)")
    p.set_defaults(func=lambda a: run_generate(model_dir, a))
    return p


def run_generate(model_dir: str, args: argparse.Namespace) -> int:
    import aigc

    pipe = aigc.load(model_dir, device=args.device)
    roll = pipe.generate(bars=args.bars, temperature=args.temperature, top_p=args.top_p, seed=args.seed,
                         prompt=args.prompt, iterations=args.iterations, progress=progress_enabled(args))
    params = {"bars": args.bars, "temperature": args.temperature, "top_p": args.top_p,
              "prompt": args.prompt, "iterations": args.iterations, "watermark": args.watermark}
    paths = pipe.save(roll, args.out, seed=args.seed, tempo=args.tempo, png=not args.no_png,
                      wav=not args.no_wav, **params)
    print(f"wrote {', '.join(str(p) for p in paths.values())} ({len(roll)} steps)")
    return 0


def add_harmonize(subparsers: argparse._SubParsersAction) -> None:
    """``aigc harmonize MODEL melody.mid --out chorale.mid``."""
    p = subparsers.add_parser(
        "harmonize", help="write alto, tenor and bass under a melody",
        description="Harmonise a melody as a four-part chorale: the melody (the top line of the MIDI "
                    "file) is kept exactly as the soprano; an infill model (Coconet) writes alto, "
                    "tenor and bass by Gibbs sampling, a frame model by sampling under the melody. "
                    "Writes the MIDI (one track per voice), a piano-roll PNG and a WAV. Example: "
                    "aigc harmonize runs/jsb-infill melody.mid --out chorale.mid --seed 0")
    p.add_argument("model", help="music model directory (infill or frame)")
    p.add_argument("melody", help="MIDI file with the melody")
    p.add_argument("--tempo", type=float, default=80.0, help="beats per minute of the output (default 80)")
    p.add_argument("--temperature", type=float, default=0.7, help="< 1 safer, > 1 wilder (default 0.7)")
    p.add_argument("--iterations", type=positive_int, default=96, help="Gibbs rounds, infill only (default 96)")
    p.add_argument("--no-png", action="store_true", help="do not write the piano-roll picture")
    p.add_argument("--no-wav", action="store_true", help="do not write the WAV rendering")
    add_inference_args(p, out="chorale.mid", out_help="the .mid file to write (.png and .wav beside it)")
    p.set_defaults(func=run_harmonize)


def run_harmonize(args: argparse.Namespace) -> int:
    import aigc
    from aigc.core.errors import BadInputError

    pipe = aigc.load(args.model, device=args.device)
    if getattr(pipe, "task", "") != "music":
        raise BadInputError(f"{args.model}: a {pipe.task!r} model; harmonize needs a music model")
    voices = pipe.harmonize(args.melody, temperature=args.temperature, iterations=args.iterations,
                            seed=args.seed, progress=progress_enabled(args))
    paths = pipe.save(voices, args.out, seed=args.seed, tempo=args.tempo, png=not args.no_png,
                      wav=not args.no_wav, melody=str(args.melody), temperature=args.temperature,
                      iterations=args.iterations, watermark=args.watermark)
    print(f"wrote {', '.join(str(p) for p in paths.values())} ({len(voices)} steps, 4 voices)")
    return 0
