"""``aigc train audio`` flags, ``aigc generate`` for synthesisers, ``aigc listen``, ``aigc speak`` and
``aigc eval audio``. Nothing heavy is imported at module level (``aigc --help`` stays fast)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aigc.core.cli_args import (
    add_device_arg,
    add_inference_args,
    add_seed_arg,
    bounded_int,
    positive_int,
)

__all__ = ["add_eval_audio", "add_listen", "add_speak", "add_train_args", "generate_parser"]

_FMT = argparse.ArgumentDefaultsHelpFormatter


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The audio task's own flags (the loop's --out --steps --seed --lr ... come from the core)."""
    p.add_argument("--arch", choices=["recognizer", "mel-diffusion", "vocoder"], default="recognizer",
                   help="recognizer: digit + speaker CNN on log-mels; mel-diffusion: digit- and "
                        "speaker-conditioned mel generator (Griffin-Lim, or a trained vocoder); vocoder: "
                        "log-mel -> wave network for --vocoder (e.g. --arch vocoder --batch-size 16 --steps 3000)")
    p.add_argument("--data", default="fsdd",
                   help="fsdd (Free Spoken Digit Dataset, official split) or folder:PATH (one sub-folder per digit)")
    p.add_argument("--split", default="train", choices=["train", "test", "all"], help="FSDD split")
    p.add_argument("--sample-rate", type=positive_int, default=8000, help="Hz; other rates are resampled")
    p.add_argument("--clip-seconds", type=float, default=0.752, help="clip length the model sees")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable audio files (and count them)")
    p.add_argument("--channels", type=positive_int, default=None,
                   help="network width (default: recognizer 32, mel-diffusion 128, vocoder 128; 64 trains "
                        "more steps per CPU-second)")
    p.add_argument("--n-mels", type=positive_int, default=None, help="mel bands (default 40)")
    p.set_defaults(steps=3000, batch_size=64, lr=1e-3)


def _load(model_dir: str, device: str) -> Any:
    import aigc

    return aigc.load(model_dir, device=device)


def _digits(text: str) -> list[int | None]:
    from aigc.core.errors import BadInputError

    out: list[int | None] = []
    for tok in text.replace(",", " ").split():
        if tok in ("?", "any"):
            out.append(None)
        elif tok.isdigit() and len(tok) == 1:
            out.append(int(tok))
        else:
            raise BadInputError(f"--digits: {tok!r} is not a digit 0-9 (or 'any'); e.g. --digits \"0 1 2\"")
    return out


def _add_sampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speaker", default=None, help="speaker name (e.g. theo) or index; default any speaker")
    p.add_argument("--steps", type=bounded_int(1, 1000), default=25, help="DDIM sampling steps")
    p.add_argument("--guidance", type=float, default=2.0,
                   help="classifier-free guidance scale (1 = none). Measured on FSDD (1000 clips, 30 CPU-min "
                        "model): 1.5-2 best (IS 98-103 %% of real, FD 17-18), 4 over-sharpens, 6 collapses")
    p.add_argument("--vocoder", metavar="DIR", default=None,
                   help="a trained vocoder model directory (aigc train audio --arch vocoder) to turn mels "
                        "into waves; default Griffin-Lim")


def generate_parser(model_dir: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"aigc generate {model_dir}", formatter_class=_FMT,
        description="Generate spoken digits with a mel-diffusion model. Example: "
                    f"aigc generate {model_dir} --digits \"3 3 7\" --speaker theo --out clips/ "
                    "(a folder: one WAV per clip; a .wav file: the clips joined with pauses)")
    p.add_argument("--digits", default=None, help="digits to say, e.g. \"0 1 2\"; 'any' = unconditional")
    p.add_argument("--n", type=bounded_int(1, 10_000), default=10, help="clips when --digits is not given "
                   "(unconditional)")
    _add_sampling(p)
    add_inference_args(p, out="digits.wav", out_help="a .wav file, or a folder for one WAV per clip")
    p.set_defaults(func=lambda a: run_generate(model_dir, a))
    return p


def run_generate(model_dir: str, args: argparse.Namespace) -> int:
    from aigc.audio.sequence import join_clips, trim_silence

    pipe = _load(model_dir, args.device)
    digits = _digits(args.digits) if args.digits else [None] * args.n
    params = {"digits": digits, "speaker": args.speaker, "steps": args.steps, "guidance": args.guidance}
    params["watermark"] = args.watermark
    vocoder = pipe.load_vocoder(args.vocoder)
    params["vocoder"] = vocoder.model_id if vocoder is not None else "griffin-lim"
    waves = pipe.generate(digits, speaker=args.speaker, seed=args.seed, steps=args.steps, guidance=args.guidance,
                          vocoder=vocoder)
    out = Path(args.out)
    if out.suffix.lower() == ".wav":
        clips = [trim_silence(w, pipe.sample_rate) for w in waves.numpy()]
        pipe.save(join_clips(clips, pipe.sample_rate, pauses_s=0.3), out, seed=args.seed, **params)
        print(f"wrote {len(waves)} clip(s) joined into {out}")
        return 0
    for i, w in enumerate(waves):
        d = "any" if digits[i] is None else digits[i]
        pipe.save(w, out / f"{i:04d}_{d}.wav", seed=args.seed, index=i, **params)
    print(f"wrote {len(waves)} WAV file(s) to {out}")
    return 0


def add_listen(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "listen", help="print the digits a recogniser hears in a WAV file", formatter_class=_FMT,
        description="Split a recording on silence and recognise each spoken digit. Example: "
                    "aigc listen runs/fsdd-recognizer phone.wav   (prints e.g. '4 1 5 2')")
    p.add_argument("model_dir", help="a recognizer model directory")
    p.add_argument("file", help="WAV, FLAC or OGG file (any sample rate; resampled to the model's)")
    p.add_argument("--top-db", type=float, default=40.0, help="quieter than this below the peak is silence")
    p.add_argument("--min-gap", type=float, default=0.1, help="seconds of silence that separate two digits")
    p.add_argument("--json", action="store_true", help="print every segment (time, digit, confidence) as JSON")
    add_device_arg(p)
    p.set_defaults(func=run_listen)


def run_listen(args: argparse.Namespace) -> int:
    from aigc.data.audio import read_audio

    pipe = _load(args.model_dir, args.device)
    wave, sr = read_audio(args.file)
    segments = pipe.listen(wave, sr, top_db=args.top_db, min_gap_s=args.min_gap)
    if args.json:
        print(json.dumps({"file": args.file, "model_id": pipe.model_id, "segments": segments}, indent=2))
    else:
        print(" ".join(s["digit"] for s in segments) if segments else "(no speech found)")
    return 0


def add_speak(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "speak", help="read a digit string aloud with a synthesiser (WAV out)", formatter_class=_FMT,
        description="Read digits aloud: each one generated, then joined with pauses (longer at "
                    "dashes) and cross-fades. Example: aigc speak runs/fsdd-synth \"4 1 5 2\" "
                    "--speaker theo --out phone.wav (add --vocoder runs/fsdd-vocoder for the trained "
                    "neural vocoder instead of Griffin-Lim). Given a local Hugging Face VITS / MMS-TTS folder "
                    "(model.safetensors), any text is read: aigc speak mms-tts-eng \"hello\" --out hi.wav")
    p.add_argument("model_dir", help="a mel-diffusion model directory, or a Hugging Face VITS folder")
    p.add_argument("text", help="digits, e.g. \"4 1 5 2\" or \"555-0134\" (any text for a VITS model)")
    _add_sampling(p)
    p.add_argument("--pause", type=float, default=0.25, help="seconds between digits")
    p.add_argument("--group-pause", type=float, default=0.5, help="seconds at a dash, dot or comma")
    p.add_argument("--crossfade", type=float, default=0.015, help="fade length at every joint (s)")
    add_inference_args(p, out="speech.wav", out_help="the WAV to write (recipe embedded)")
    p.set_defaults(func=run_speak)


def run_speak(args: argparse.Namespace) -> int:
    from aigc.audio.hf_tts import VitsSpeaker, is_hf_vits

    if is_hf_vits(args.model_dir):  # a Hugging Face VITS / MMS-TTS checkpoint reads any text
        device = "cpu" if args.device == "auto" else args.device
        speaker = VitsSpeaker(args.model_dir, device=device)
        wave = speaker.speak(args.text, seed=args.seed)
        speaker.save(wave, args.out, seed=args.seed, text=args.text, watermark=args.watermark)
        print(f"wrote {args.out} ({len(wave) / speaker.sample_rate:.2f} s)")
        return 0
    pipe = _load(args.model_dir, args.device)
    params = {"speaker": args.speaker, "steps": args.steps, "guidance": args.guidance,
              "pause_s": args.pause, "group_pause_s": args.group_pause, "crossfade_s": args.crossfade}
    vocoder = pipe.load_vocoder(args.vocoder)
    wave = pipe.speak(args.text, seed=args.seed, vocoder=vocoder, **params)
    pipe.save(wave, args.out, seed=args.seed, text=args.text, watermark=args.watermark,
              vocoder=vocoder.model_id if vocoder is not None else "griffin-lim", **params)
    print(f"wrote {args.out} ({len(wave) / pipe.sample_rate:.2f} s)")
    return 0


def add_eval_audio(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audio", help="score audio models on FSDD's official test split", formatter_class=_FMT,
        description="Recogniser accuracy on real test clips; with --synth, N generated digits "
                    "(balanced over digits and speakers) scored in the recogniser's features: "
                    "conditional accuracy, Inception Score, Fréchet distance, beside the real "
                    "test set's IS and the real-vs-real floor. Example: aigc eval audio "
                    "--recognizer runs/fsdd-recognizer --synth runs/fsdd-synth --n 1000 --out report.json")
    p.add_argument("--recognizer", required=True, metavar="DIR", help="recognizer model directory")
    p.add_argument("--synth", metavar="DIR", help="mel-diffusion model directory to score")
    p.add_argument("--data", default="fsdd", help="fsdd or folder:PATH (real clips, sub-folders = digits)")
    p.add_argument("--n", type=bounded_int(10, 100_000), default=1000, help="generated clips")
    p.add_argument("--steps", type=bounded_int(1, 1000), default=25, help="DDIM steps")
    p.add_argument("--guidance", type=float, default=2.0, help="classifier-free guidance scale (1 = none)")
    p.add_argument("--vocoder", metavar="DIR", default=None,
                   help="a trained vocoder model directory for the synthesiser's mels (default Griffin-Lim)")
    add_seed_arg(p)
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable audio files (and count them)")
    add_device_arg(p)
    p.add_argument("--out", help="also write the report as JSON here")
    p.set_defaults(func=run_eval_audio)


def run_eval_audio(args: argparse.Namespace) -> int:
    from aigc.audio.evaluate import evaluate_synth, recognizer_accuracy
    from aigc.core.atomic import atomic_write_json
    from aigc.data.audio import load_audio_source

    rec = _load(args.recognizer, args.device)
    real = load_audio_source(args.data, split="test", sr=rec.sample_rate, skip_bad=args.skip_bad)
    report: dict[str, Any] = {"recognizer": {"model_id": rec.model_id, **recognizer_accuracy(rec, real)}}
    if args.synth:
        floor = load_audio_source(args.data, split="train", sr=rec.sample_rate) if args.data == "fsdd" else None
        synth = _load(args.synth, args.device)
        report["synth"] = {"model_id": synth.model_id, **evaluate_synth(
            synth, rec, real, n=args.n, seed=args.seed, steps=args.steps, guidance=args.guidance, floor_data=floor,
            vocoder=args.vocoder)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        atomic_write_json(args.out, report)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
