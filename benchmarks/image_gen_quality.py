"""Image-generation quality on MNIST: each architecture trains for a fixed CPU-time budget, then
FID (over the ``mnist`` domain-CNN features of ``aigc.metrics``, against the MNIST test set at the
model's resolution, so both sides take the same resampling path; ``fid_floor`` is as many MNIST
training images against it) and the class coverage of generated samples; class-conditional models also report the share of samples
classified as the class they were asked for. Writes ``results/image_gen_quality.json`` and one PNG
sample sheet per architecture.

    python benchmarks/image_gen_quality.py --budget-s 600 --samples 10000 --threads 1

Goals: conditional models >= 95 % of samples in their requested class; unconditional ones all 10
classes at 5-15 % each. The budget is the Trainer's time limit on the process CPU clock
(``time_limit_clock="cpu"``), so every model gets the same CPU time whatever its step cost, and
other jobs on the machine slow the run down without shrinking its budget.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import command, machine  # noqa: E402

import aigc  # noqa: E402
from aigc.core.artifacts import make_grid, save_png  # noqa: E402
from aigc.core.atomic import atomic_write_json  # noqa: E402
from aigc.core.errors import BadInputError  # noqa: E402
from aigc.data.images import load_image_source  # noqa: E402
from aigc.metrics import class_coverage, conditional_accuracy, frechet_distance, load_feature_extractor  # noqa: E402
from aigc.image_gen.train import ImageGenSettings  # noqa: E402
from aigc.image_gen.train import train as train_image_gen  # noqa: E402
from aigc.train import TrainConfig  # noqa: E402

RESULTS = Path(__file__).parent / "results"
# name in the table -> (registered architecture, config fields, train settings, sampling options)
RUNS: dict[str, tuple[str, dict, dict, dict]] = {
    "dcgan": ("dcgan", {}, {"lr": 2e-4, "batch_size": 64}, {}),
    "vae": ("vae", {}, {"lr": 1e-3, "batch_size": 64}, {}),
    # a CPU schedule: 2 critic updates per G update (not 5) and the penalty lazily on every 4th
    # critic update at 4x weight; lr 2e-4 (the paper: 5 critic updates, penalty on each, 1e-4)
    "wgan-gp": ("wgan-gp", {"n_critic": 2, "gp_every": 4}, {"lr": 2e-4, "batch_size": 128}, {}),
    "sngan": ("sngan", {}, {"lr": 2e-4, "batch_size": 64}, {}),
    "lsgan": ("lsgan", {}, {"lr": 2e-4, "batch_size": 64}, {}),
    "cgan": ("cgan", {"num_classes": 10}, {"lr": 2e-4, "batch_size": 64}, {}),
    # at the data's native scale (32 px, like the GANs), a 32-channel U-Net, 20 sampling steps with
    # DDPM step noise (eta 1) and guidance 1.5. FID of 500 samples of the 1800-s model (floor 6.4):
    # eta 0 / guidance 3 19.8 (a third of the samples speckled), eta 0 / 2 23.4, eta 0.5 / 3 20.9,
    # eta 1 / 3 29.6 (clean but bold strokes), eta 1 / 2 14.6, eta 1 / 1.5 10.9
    "ddpm": ("ddpm", {"num_classes": 10, "features": 32, "image_size": 32},
             {"lr": 1e-3, "batch_size": 64, "ema_decay": 0.995}, {"guidance": 1.5, "steps": 20, "eta": 1.0}),
}


def features():
    try:
        return load_feature_extractor("mnist")
    except BadInputError:
        from aigc.metrics.train_features import train_features

        print("training the mnist feature CNN once (cached) ...", flush=True)
        train_features("mnist", progress=False)
        return load_feature_extractor("mnist")


def train(name: str, data, budget_s: float, out: Path, image_size: int) -> dict:
    """The task's own train() (as the CLI runs it), on MNIST train, for ``budget_s`` CPU seconds."""
    arch, fields, settings, _ = RUNS[name]
    tcfg = TrainConfig(steps=10**9, device="cpu", seed=0, log_every=50, checkpoint_every=10**9,
                       progress=False, time_limit_s=budget_s, time_limit_clock="cpu", **settings)
    spec = ImageGenSettings(arch=arch, data="mnist", image_size=image_size, channels=1, model=dict(fields))
    start, cpu = time.perf_counter(), time.process_time()
    summary = train_image_gen(spec, tcfg, out)
    return {"steps": summary["step"], "train_s": round(time.perf_counter() - start, 1),
            "train_cpu_s": round(time.process_time() - cpu, 1)}


@torch.no_grad()
def reference(extractor, size: int, floor_n: int = 10_000) -> tuple[torch.Tensor, float]:
    """Features of the MNIST test set at the models' resolution, and the FID floor there (the first
    ``floor_n`` training images against it). The reference must take the same resampling path as
    the samples (28 -> size -> the extractor's 28): against the native 28-px test set, MNIST's own
    training images at 32 px score FID 85.7 (Parmar et al. 2022 on resizing in FID)."""
    real_feats = extractor.features(load_image_source("mnist", split="test", image_size=size, channels=1).images)
    train = load_image_source("mnist", split="train", image_size=size, channels=1).images[:floor_n]
    return real_feats, frechet_distance(extractor.features(train), real_feats)


@torch.no_grad()
def evaluate(name: str, out: Path, extractor, real_feats: torch.Tensor, n: int, sheet: Path) -> dict:
    pipe = aigc.load(str(out), device="cpu")
    conditional = pipe.num_classes > 0
    labels = torch.arange(n) % 10 if conditional else None
    start = time.perf_counter()
    images = pipe.generate(n, seed=0, labels=labels, **RUNS[name][3])
    sample_s = time.perf_counter() - start
    probs = extractor.probs(images)
    cov = class_coverage(probs, 10)
    shares = [c / n for c in cov["histogram"]]
    order = torch.arange(100) if not conditional else torch.arange(100).view(10, 10).T.flatten()
    save_png(sheet, make_grid(images[order]), pipe.recipe(seed=0, n=100), scale_to=512)
    return {
        "fid": round(frechet_distance(extractor.features(images), real_feats), 3),
        "features": extractor.name,
        "classes_covered": cov["modes_covered"],
        "classes_within_5_15pct": sum(0.05 <= s <= 0.15 for s in shares),
        "class_shares": [round(s, 4) for s in shares],
        "class_kl": round(cov["kl_to_uniform"], 4),
        "conditional_accuracy": round(conditional_accuracy(probs, labels), 4) if conditional else None,
        "samples": n, "sample_s": round(sample_s, 1), **({"sampling": RUNS[name][3]} if RUNS[name][3] else {}),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--archs", nargs="+", default=list(RUNS), choices=list(RUNS))
    p.add_argument("--budget-s", type=float, default=600, help="training CPU seconds per model (process CPU time)")
    p.add_argument("--samples", type=int, default=10_000, help="generated images per model")
    p.add_argument("--ddpm-samples", type=int, default=None, help="fewer samples for ddpm (DDIM is slow on CPU)")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=None, help="torch threads (1 is fastest on a shared CPU)")
    p.add_argument("--note", default="")
    p.add_argument("--keep", type=Path, default=None, help="keep each trained model in DIR/ARCH (else a temporary folder)")
    p.add_argument("--rescore", action="store_true", help="with --keep: score the models kept there, do not train")
    args = p.parse_args()
    if args.rescore and not args.keep:
        p.error("--rescore needs --keep DIR (the models to score)")
    if args.threads:
        torch.set_num_threads(args.threads)
    extractor = features()
    references: dict[tuple[int, int], tuple[torch.Tensor, float]] = {}
    mine: dict[str, dict] = {}  # rows this run made
    out_json = RESULTS / "image_gen_quality.json"
    result: dict = {}
    if out_json.is_file():  # keep rows of archs not re-run this time
        import json

        result = {k: v for k, v in json.loads(out_json.read_text()).items() if k in RUNS}
    for name in args.archs:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = args.keep or tmp
            size = RUNS[name][1].get("image_size", args.image_size)
            n = args.ddpm_samples if name == "ddpm" and args.ddpm_samples else args.samples
            if (size, n) not in references:  # the floor from as many training images as samples (FID's bias)
                references[size, n] = reference(extractor, size, n)
            real_feats, floor = references[size, n]
            if args.rescore:  # a model kept by an earlier --keep run: score it again, keep its training figures
                info = {k: result.get(name, {}).get(k) for k in ("steps", "train_s", "train_cpu_s")}
            else:
                data = load_image_source("mnist", split="train", image_size=size, channels=1)
                info = train(name, data, args.budget_s, Path(tmp) / name, size)
            row = evaluate(name, Path(tmp) / name, extractor, real_feats, n, RESULTS / f"image_gen_{name}.png")
        # each row keeps the command and note that made it (rows of several runs share the file)
        result[name] = {**row, **info, "fid_floor": round(floor, 3), "budget_s": int(args.budget_s),
                        "image_size": size, "command": command(), "note": args.note}
        print(name, result[name], flush=True)
        mine[name] = result[name]
        if out_json.is_file():  # another run may have written rows since: keep them, put ours over them
            import json

            result = {**json.loads(out_json.read_text()), **mine}
        result.update({"machine": machine(), "command": command(), "note": args.note,
                       "features_info": extractor.describe()})
        atomic_write_json(out_json, result)


if __name__ == "__main__":
    main()
