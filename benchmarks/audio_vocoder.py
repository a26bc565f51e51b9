"""The neural vocoder against Griffin-Lim on FSDD's official test split.

Trains the vocoder (``aigc train audio --arch vocoder``, a fixed number of steps on a cosine
schedule) and, unless one is given, the recogniser (a budget of process CPU seconds), then rebuilds each of the 300 test clips from its own
log-mel (floored as the mel-diffusion synthesiser's) with both vocoders and reports, against the
real clip: log-mel L1, multi-resolution STFT distance, SI-SNR, and the recogniser's digit accuracy
on the rebuilt clips beside its accuracy on the real ones. Writes ``results/audio_vocoder.json``.

    python benchmarks/audio_vocoder.py --vocoder-steps 3000 --recognizer-budget-s 300
    python benchmarks/audio_vocoder.py --vocoder-steps 20 --recognizer-budget-s 20 --out /tmp/check.json   # quick
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import command, machine

import aigc
from aigc.audio.evaluate import evaluate_vocoders
from aigc.audio.train import AudioSettings, train
from aigc.core.atomic import atomic_write_json
from aigc.core.pipeline import describe
from aigc.data.audio import load_fsdd
from aigc.train import TrainConfig

RESULTS = Path(__file__).parent / "results"
RUNS = {
    "recognizer": ({"channels": 32}, {"lr": 2e-3, "batch_size": 64, "warmup_steps": 100}),
    "vocoder": ({"channels": 128}, {"lr": 1e-3, "batch_size": 16, "warmup_steps": 100, "grad_clip": 1.0,
                                    "schedule": "cosine"}),
}


def _train(arch: str, budget: float | None, out: Path, seed: int, steps: int = 10_000_000) -> float:
    """Train for ``steps`` or until ``budget`` CPU seconds are spent."""
    settings, cfg = RUNS[arch]
    start = time.process_time()
    limit = {} if budget is None else {"time_limit_s": budget, "time_limit_clock": "cpu"}
    config = TrainConfig(steps=steps, seed=seed, progress=False, checkpoint_every=1_000_000, log_every=50,
                         **limit, **cfg)
    train(AudioSettings(arch=arch, **settings), config, out)
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocoder-steps", type=int, default=3000, help="vocoder training steps (batch 16)")
    p.add_argument("--recognizer-budget-s", type=float, default=300.0, help="CPU seconds of recogniser training")
    p.add_argument("--recognizer", default=None, help="use this recogniser model directory instead of training one")
    p.add_argument("--vocoder", default=None, help="score this vocoder model directory instead of training one")
    p.add_argument("--griffin-lim-iters", type=int, default=32, help="Griffin-Lim iterations (the pipeline's)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", default=None, help="keep the trained model directories here (default: a temporary folder)")
    p.add_argument("--out", default=str(RESULTS / "audio_vocoder.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="audio_vocoder_") as tmp:
        work, cpu = Path(args.work or tmp), {}
        dirs = {"recognizer": args.recognizer, "vocoder": args.vocoder}
        if dirs["recognizer"] is None:
            dirs["recognizer"] = work / "recognizer"
            cpu["recognizer"] = _train("recognizer", args.recognizer_budget_s, dirs["recognizer"], args.seed)
        if dirs["vocoder"] is None:
            dirs["vocoder"] = work / "vocoder"
            cpu["vocoder"] = _train("vocoder", None, dirs["vocoder"], args.seed, steps=args.vocoder_steps)
        rec, voc = aigc.load(dirs["recognizer"], device="cpu"), aigc.load(dirs["vocoder"], device="cpu")
        start = time.process_time()
        report = evaluate_vocoders(voc, rec, load_fsdd("test"), griffin_lim_iters=args.griffin_lim_iters)
        steps = {arch: describe(d)["step"] for arch, d in dirs.items()}
    result = {**report, "train_cpu_s": cpu, "train_steps": steps,
              "recognizer_budget_s": args.recognizer_budget_s, "eval_cpu_s": time.process_time() - start,
              "cpu_s": sum(cpu.values()) + time.process_time() - start, "vocoder_settings": RUNS["vocoder"],
              "machine": machine(), "command": command()}
    atomic_write_json(args.out, result)
    print({k: v for k, v in result.items() if k not in ("machine",)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
