"""MNIST adversarial robustness at eps = 0.3 (L-inf): adversarial training through the one Trainer
within a CPU budget, then clean accuracy and PGD-100 (with restarts) robust accuracy on the test set.

Anchors: Madry et al. (2018) PGD-AT 89-92.5 % under PGD; Wong et al. (2020) fast FGSM-RS 88.8 %.
Goal: >= 90 % robust accuracy within 60 CPU-minutes, clean accuracy beside it.

    python benchmarks/robustness.py --budget-s 3600 --n-eval 1000                 # the full run
    python benchmarks/robustness.py --budget-s 30 --n-eval 50 --out /tmp/rob.json  # a check
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command, machine

ANCHORS = {"madry_pgd_at": [0.89, 0.925], "wong_fgsm_rs": 0.888}


def train_robust(out: Path, args: argparse.Namespace) -> dict:
    from aigc.classify.train import ClassifySettings, train
    from aigc.train import TrainConfig

    ext = {"adversarial": {"method": args.method, "eps": args.eps, "steps": args.adv_steps, "alpha": args.adv_alpha,
                           "beta": 6.0}}
    cfg = TrainConfig(steps=1_000_000, batch_size=args.batch_size, lr=args.lr, seed=args.seed, progress=False,
                      checkpoint_every=1_000_000, log_every=50, time_limit_s=args.budget_s, time_limit_clock="cpu",
                      extensions=ext)
    settings = ClassifySettings(data="mnist", widths=(32, 64), hidden=256, activation="relu", model={"kernel": 5})
    return train(settings, cfg, out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget-s", type=float, default=3600.0, help="training CPU seconds")
    p.add_argument("--method", choices=["pgd", "fgsm-rs", "trades"], default="pgd")
    p.add_argument("--eps", type=float, default=0.3)
    p.add_argument("--adv-steps", type=int, default=7)
    p.add_argument("--adv-alpha", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--n-eval", type=int, default=1000, help="test images attacked")
    p.add_argument("--restarts", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model-dir", default=None, help="keep the model here (default: a temporary folder)")
    p.add_argument("--out", default="benchmarks/results/robustness.json")
    p.add_argument("--evaluate-only", action="store_true",
                   help="skip training: attack the model already in --model-dir (e.g. a run stopped with Ctrl-C, "
                        "which checkpoints); give the CPU seconds it trained with --train-cpu-s")
    p.add_argument("--train-cpu-s", type=float, default=None,
                   help="with --evaluate-only: the training process's CPU seconds (as ps reported it)")
    args = p.parse_args(argv)
    from aigc.tools.robust.audit import (
        audit_robustness,
        labelled_images,
        load_classifier,
    )

    start = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.model_dir) if args.model_dir else Path(tmp) / "mnist-robust"
        if args.evaluate_only:
            if not args.model_dir or args.train_cpu_s is None:
                p.error("--evaluate-only needs --model-dir and --train-cpu-s")
            from aigc.core.modeldir import weights_metadata
            summary = {"step": int(weights_metadata(out / "model.safetensors")["step"])}
        else:
            summary = train_robust(out, args)
        train_cpu_s = args.train_cpu_s if args.evaluate_only else time.process_time() - start
        pipe, f = load_classifier(str(out))
        x, y = labelled_images(pipe, "mnist", "test", None)
        with torch.no_grad():
            clean = float(sum(int((f(a).argmax(1) == b).sum()) for a, b in zip(x.split(1000), y.split(1000))) / len(x))
        xs, ys = labelled_images(pipe, "mnist", "test", args.n_eval, seed=args.seed)
        report, _ = audit_robustness(f, xs, ys, attack="pgd-100", eps=args.eps, restarts=args.restarts, seed=args.seed)
    result = {"clean_accuracy": clean, "pgd100_eps0.3_accuracy": report["robust_accuracy"],
              "clean_accuracy_on_attacked_subset": report["clean_accuracy"], "n_attacked": report["n"],
              "restarts": args.restarts, "method": args.method, "train_steps": summary["step"],
              "train_budget_cpu_s": args.budget_s, "train_cpu_s": train_cpu_s,
              "cpu_s": time.process_time() - start + (train_cpu_s if args.evaluate_only else 0.0), "anchors": ANCHORS,
              "goal": ">= 0.90 robust within 3600 CPU-s", "machine": machine(), "command": command()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine", "anchors")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
