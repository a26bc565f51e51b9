"""The same effect chain through ``aigc audio edit`` and through SoX on a long file: wall time of
each in one run, their ratio, and peak memory (max RSS of each process).

The input is generated block by block (tones, chords, noise bursts and pauses, stereo, 16-bit), so
making it holds no more than a second in memory either. SoX has no LUFS normaliser, no fourth-order
Butterworth and no Wiener denoiser; the nearest SoX effects stand in (listed in the JSON), so the
comparison is of work of the same kind and size, not of identical output. Writes
``benchmarks/results/audio_edit.json``.

    python benchmarks/audio_edit.py [--minutes 10] [--sr 44100] [--channels 2]
    python benchmarks/audio_edit.py --minutes 0.2 --out /tmp/audio_edit.json   # a quick check
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command, machine

from aigc.core.atomic import atomic_write_json

OURS = ["--gain", "-3", "--highpass", "80", "--lowpass", "6000", "--eq", "1000:+3:1.0",
        "--compress", "-20:4:10:100:0", "--reverb", "0.3", "--pitch", "+2", "--speed", "1.1",
        "--denoise", "--normalize", "-16LUFS", "--fade", "0.05"]
# SoX stand-ins, effect by effect (same order)
SOX = ["gain", "-3", "highpass", "80", "highpass", "80", "lowpass", "6000", "lowpass", "6000",
       "equalizer", "1000", "1.0q", "3", "compand", "0.01,0.1", "6:-70,-70,-20,-20,0,-15", "0", "-90",
       "reverb", "30", "pitch", "200", "tempo", "1.1", "noisered", "{profile}", "0.21", "norm", "-1",
       "fade", "t", "0.05", "{stop}", "0.05"]
SUBSTITUTES = {
    "highpass/lowpass": "two SoX 2-pole sections for one 4th-order Butterworth",
    "compress": "compand with the same threshold, ratio, attack and release",
    "reverb": "SoX's Freeverb-style reverb (30 % reverberance) for convolution with a 1.2 s room",
    "pitch/speed": "SoX pitch (WSOLA + resampling) and tempo (WSOLA) for the phase vocoder",
    "denoise": "SoX noiseprof over the whole file (a pass of its own) + noisered, for the Wiener gate",
    "normalize": "SoX norm -1 (peak, two passes through a temporary file) for BS.1770 loudness",
}

# how `aigc audio edit` runs that chain (see its --help)
AIGC_RUNS = ("float32 arithmetic; --gain --highpass --lowpass --eq as one cascade of 9 biquads; --pitch --speed "
             "as one phase-vocoder stretch + one polyphase resampling; three passes (the --denoise and "
             "--normalize measurements)")

# `aigc audio edit` through the real CLI entry point; the registry line for the audio task is
# added here in case the lead's registration has not landed in this checkout yet.
_CLI = ("import sys; from aigc.core import registry; "
        "registry.TASKS.setdefault('audio', 'aigc.audio.task:TASK'); "
        "from aigc.cli import main; sys.exit(main(sys.argv[1:]))")
# run a command and print its wall time and its max RSS (the child's alone)
_MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "rc = subprocess.call(sys.argv[1:]); dt = time.perf_counter() - t; "
            "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print(rc, dt, u.ru_utime + u.ru_stime, u.ru_maxrss)")


def make_input(path: Path, minutes: float, sr: int, channels: int, seed: int = 0) -> None:
    """A music-and-speech-like test signal written one second at a time."""
    rng = np.random.default_rng(seed)
    with sf.SoundFile(str(path), "w", sr, channels, "PCM_16") as f:
        for sec in range(round(minutes * 60)):
            t = sec + np.arange(sr) / sr
            notes = 220 * 2 ** (rng.integers(0, 24, size=3) / 12)
            tone = sum(np.sin(2 * np.pi * f0 * t) for f0 in notes) / 3
            env = 0.5 * (1 + np.sin(2 * np.pi * 0.5 * t)) * (rng.random() > 0.15)
            x = 0.3 * tone * env + 0.02 * rng.standard_normal(sr)
            f.write(np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1))


def measure(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True,
                         check=True)
    rc, wall, cpu, rss_kb = out.stdout.split()
    if int(rc) != 0:
        raise SystemExit(f"command failed ({rc}): {' '.join(argv)}\n{out.stderr}")
    return {"wall_s": round(float(wall), 2), "cpu_s": round(float(cpu), 2),
            "peak_rss_mb": round(int(rss_kb) / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sr", type=int, default=44100)
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "audio_edit.json"))
    args = parser.parse_args()
    sox = shutil.which("sox")
    with tempfile.TemporaryDirectory() as tmp:
        src, tmpdir = Path(tmp) / "input.wav", Path(tmp)
        make_input(src, args.minutes, args.sr, args.channels)
        ours = measure([sys.executable, "-c", _CLI, "audio", "edit", str(src), str(tmpdir / "ours.wav"),
                        "--quiet", *OURS])
        ours["output_s"] = round(sf.info(str(tmpdir / "ours.wav")).duration, 2)
        result = {"input": {"minutes": args.minutes, "sample_rate": args.sr, "channels": args.channels,
                            "subtype": "PCM_16"},
                  "aigc_chain": " ".join(OURS), "aigc_runs": AIGC_RUNS, "aigc": ours, "machine": machine(),
                  "command": command()}
        if sox is None:
            result["sox"] = "not installed (apt-get install sox)"
        else:
            start = time.perf_counter()
            profile = measure([sox, str(src), "-n", "noiseprof", str(tmpdir / "noise.prof")])
            stop = f"{args.minutes * 60 / 1.1:.3f}"  # SoX cannot see the length after tempo
            chain = [a.format(profile=tmpdir / "noise.prof", stop=stop) for a in SOX]
            main_run = measure([sox, str(src), str(tmpdir / "sox.wav"), *chain])
            total = time.perf_counter() - start
            result["sox"] = {"wall_s": round(profile["wall_s"] + main_run["wall_s"], 2),
                             "cpu_s": round(profile["cpu_s"] + main_run["cpu_s"], 2),
                             "peak_rss_mb": max(profile["peak_rss_mb"], main_run["peak_rss_mb"]),
                             "output_s": round(sf.info(str(tmpdir / "sox.wav")).duration, 2),
                             "chain": "sox IN OUT " + " ".join(chain).replace(str(tmpdir) + "/", ""),
                             "version": subprocess.run([sox, "--version"], capture_output=True, check=False,
                                                       text=True).stdout.strip(),
                             "wall_incl_profile_s": round(total, 2)}
            result["sox_substitutes"] = SUBSTITUTES
            result["time_ratio_aigc_over_sox"] = round(ours["wall_s"] / result["sox"]["wall_s"], 2)
            # the machine may be shared: CPU seconds are the steadier comparison
            result["cpu_ratio_aigc_over_sox"] = round(ours["cpu_s"] / result["sox"]["cpu_s"], 2)
    atomic_write_json(args.out, result)
    keys = ("aigc", "sox", "time_ratio_aigc_over_sox", "cpu_ratio_aigc_over_sox")
    print(json.dumps({k: result[k] for k in keys if k in result},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
