"""JSB Chorales (quarter notes, Boulanger-Lewandowski split): test-set framewise NLL per architecture
within a CPU budget, and MusPy-style descriptors of generated chorales against the test set.

Published anchors, nats per time step (Chung et al. 2014; Boulanger-Lewandowski et al. 2012):
LSTM 8.67, GRU 8.54, RNN-RBM 7.27, RNN-NADE 5.83. The goal is below 5.83; the floor is GRU's 8.54.
The event Transformer's figure is its token NLL per time step, an upper bound on its roll NLL.

    python benchmarks/music_jsb.py --budget-s 1800                       # the full run (per arch)
    python benchmarks/music_jsb.py --budget-s 20 --generate 4 --out /tmp/music_jsb.json   # a check
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
from _machine import command, machine  # noqa: E402

ANCHORS = {"LSTM": 8.67, "GRU": 8.54, "RNN-RBM": 7.27, "RNN-NADE": 5.83}
# sizes chosen for a 1-thread CPU budget of 30 minutes per architecture
STEP_SHARE = 0.92  # of the budget planned as training steps (the rest: data, validation, checkpoints)
CHUNK_RESERVE_S = 3.0  # CPU seconds kept per chunk for loading the data and the validation NLL
RECIPES = {
    "frame": {"model": {"rnn": "gru", "hidden": 256, "layers": 2, "nade_hidden": 128, "dropout": 0.3, "crop": 32},
              "train": {"batch_size": 16, "lr": 5e-3, "grad_clip": 1.0, "warmup_steps": 200,
                        "schedule": "cosine", "min_lr_ratio": 0.05}},
    "transformer": {"model": {"layers": 4, "heads": 4, "embed": 128, "context": 256, "dropout": 0.2},
                    "train": {"batch_size": 16, "lr": 5e-4, "grad_clip": 1.0, "warmup_steps": 100}},
}


def step_cost(arch: str, settings, config, steps: int = 20) -> float:
    """CPU seconds of one training step of ``arch`` (the mean of ``steps`` after 3 warm-up steps),
    measured on a throwaway copy of the model, so the learning-rate schedule can end with the budget."""
    from aigc.core.registry import resolve
    from aigc.data.music import load_music
    from aigc.music.train import ARCH_TARGETS, build_tensors
    from aigc.train.batcher import Batcher

    data = load_music(settings.data)
    model_config = settings.model_config()
    objective = resolve(ARCH_TARGETS[arch])(model_config)
    batcher = Batcher(build_tensors(settings, model_config, data), config.batch_size, seed=config.seed)
    opt = next(iter(objective.configure_optimizers(objective.networks(), config.lr).values()))
    ctx = argparse.Namespace(generator=torch.Generator().manual_seed(config.seed))
    for i in range(steps + 3):
        if i == 3:
            start = time.process_time()
        loss = objective.training_step(objective.networks(), batcher.next(), ctx)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.process_time() - start) / steps


def run_arch(arch: str, budget_s: float, chunks: int, out_dir: Path, seed: int) -> dict:
    """Train in ``chunks`` equal CPU-time slices (resuming exactly), keeping the weights with the
    lowest validation NLL (early stopping on the validation split, as the JSB papers did). The
    step count (and so the cosine decay's end) comes from a measured step cost and the budget."""
    import shutil

    from aigc.music.train import MusicSettings, train
    from aigc.train.config import TrainConfig

    recipe = RECIPES[arch]
    start, history = time.process_time(), []
    settings = MusicSettings(arch=arch, data="jsb:quarter", **recipe["model"])
    config = TrainConfig(steps=1, seed=seed, progress=False, checkpoint_every=1_000_000, log_every=50,
                         time_limit_clock="cpu", **recipe["train"])
    per_step = step_cost(arch, settings, config)
    steps = max(1, int(STEP_SHARE * (budget_s - (time.process_time() - start)) / per_step))
    config = config.replace(steps=steps, warmup_steps=min(config.warmup_steps, steps // 10))
    run, best = out_dir / f"{arch}-run", out_dir / arch
    for i in range(chunks):
        left = budget_s - (time.process_time() - start) - CHUNK_RESERVE_S * (chunks - i)
        if left <= 0:
            break
        summary = train(settings, config.replace(time_limit_s=left / (chunks - i)), run, resume=i > 0)
        history.append({"step": summary["step"], "valid_nll": summary["val_loss"]})
        if summary["val_loss"] <= min(h["valid_nll"] for h in history):
            best.mkdir(parents=True, exist_ok=True)
            for name in ("config.json", "model.safetensors"):
                shutil.copyfile(run / name, best / name)
        if summary["step"] >= steps:
            break
    chosen = min(history, key=lambda h: h["valid_nll"])
    return {"cpu_s": time.process_time() - start, "steps": summary["step"], "planned_steps": steps,
            "step_cpu_s": per_step, "best_step": chosen["step"], "valid_nll": chosen["valid_nll"],
            "history": history}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget-s", type=float, default=1800.0, help="CPU seconds of training per architecture")
    p.add_argument("--archs", default="frame,transformer", help="comma-separated: frame, transformer")
    p.add_argument("--chunks", type=int, default=6, help="validation checks (early stopping) per architecture")
    p.add_argument("--generate", type=int, default=100, help="chorales generated by the best model")
    p.add_argument("--bars", type=int, default=12, help="length of each generated chorale")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", default=None, help="keep the trained models in this folder")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "music_jsb.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import aigc
    from aigc.data.music import load_jsb
    from aigc.metrics.music import compare_sets
    from aigc.music.evaluate import evaluate_model

    archs = [a for a in args.archs.split(",") if a]
    unknown = sorted(set(archs) - set(RECIPES))
    if unknown:
        p.error(f"unknown architecture(s) {unknown}; choose from {sorted(RECIPES)}")
    result = {"benchmark": "music_jsb", "data": "jsb:quarter test (77 chorales)", "anchors": ANCHORS,
              "budget_s_per_arch": args.budget_s, "nll": {}, "cpu_s": {}, "details": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        for arch in archs:
            info = run_arch(arch, args.budget_s, args.chunks, root, args.seed)
            scores = evaluate_model(str(root / arch), "jsb:quarter", split="test")
            result["nll"][arch] = scores["nll"]
            result["cpu_s"][arch] = info["cpu_s"]
            result["details"][arch] = {**info, **{k: v for k, v in scores.items() if k in ("note_accuracy",)},
                                       "recipe": RECIPES[arch]}
            print(f"{arch}: test NLL {scores['nll']:.3f} nats/step after {info['steps']} steps, "
                  f"{info['cpu_s']:.0f} CPU-s", file=sys.stderr)
        best = min(result["nll"], key=result["nll"].get)
        result["best_nll"], result["best_arch"] = result["nll"][best], best
        if args.generate:
            pipe = aigc.load(str(root / best), device="cpu")
            pieces = pipe.generate_many(args.generate, bars=args.bars, seed=args.seed)
            result["descriptors"] = {"model": best, "generated": args.generate, "bars": args.bars,
                                     **compare_sets(pieces, load_jsb("quarter", "test"), 1)}
    result["beats_gru"] = result["best_nll"] < ANCHORS["GRU"]
    result["beats_rnn_nade"] = result["best_nll"] < ANCHORS["RNN-NADE"]
    result["machine"], result["command"] = machine(), command()
    from aigc.core.atomic import atomic_write_json

    atomic_write_json(args.out, json.loads(json.dumps(result).replace("NaN", "null")))
    print(json.dumps({k: result[k] for k in ("nll", "best_nll", "cpu_s")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
