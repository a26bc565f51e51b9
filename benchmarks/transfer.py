"""Transfer learning, measured: does starting from a trained model beat training from scratch for
the same CPU budget?

(a) Images: a class-conditional DDPM trained on MNIST, then fine-tuned (``--init-from``, the
    ``transfer`` training extension) on 1 % of Fashion-MNIST's training set (60 images per class)
    vs the same DDPM trained from scratch on those images, each for ``--finetune-s`` CPU seconds.
    FID of generated images against the Fashion-MNIST test set, in the fashion-mnist domain-CNN
    features of ``aigc.metrics`` (the MNIST-domain features' twin).
(b) Text: a char GPT trained on tinyshakespeare, then moved onto another English text — Python's
    own documentation (``pydoc_data.topics``, the project's builtin:pydoc corpus; the shared data
    folders hold no other English text) — by full fine-tuning, by LoRA adapters, and from scratch,
    each for ``--finetune-s`` CPU seconds. Validation perplexity on the held-out last 10 % of the
    new text, and the adapter file's size. The new text is restricted to tinyshakespeare's
    characters (others become spaces) and every run trains on the same text with the same
    character vocabulary, so the perplexities compare directly.

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/transfer.py --pretrain-s 300 --finetune-s 120
    OMP_NUM_THREADS=1 python benchmarks/transfer.py --tiny --out /tmp/transfer.json   # a quick check
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command, machine  # noqa: E402

import aigc  # noqa: E402
from aigc.core.atomic import atomic_write_json  # noqa: E402
from aigc.core.errors import BadInputError  # noqa: E402
from aigc.core.paths import data_dir  # noqa: E402
from aigc.data.images import load_image_source  # noqa: E402
from aigc.image_gen.train import ImageGenSettings  # noqa: E402
from aigc.image_gen.train import train as train_image_gen
from aigc.metrics import frechet_distance, load_feature_extractor  # noqa: E402
from aigc.text.corpus import demo_corpus  # noqa: E402
from aigc.text.train import TextSettings  # noqa: E402
from aigc.text.train import train as train_text
from aigc.train import TrainConfig  # noqa: E402

DDPM = dict(arch="ddpm", cond=True, features=16, channels=1)
DDPM_TRAIN = dict(lr=1e-3, batch_size=64, ema_decay=0.995)
GPT = dict(context=64, layers=4, heads=4, embed=128)


def budget_config(seconds: float, **kw) -> TrainConfig:
    return TrainConfig(steps=10**9, device="cpu", seed=0, log_every=50, checkpoint_every=10**9, progress=False,
                       time_limit_s=seconds, time_limit_clock="cpu", **kw)


def timed(fn, *args, **kwargs) -> tuple[dict, float]:
    cpu = time.process_time()
    out = fn(*args, **kwargs)
    return out, round(time.process_time() - cpu, 1)


def fashion_subset(root: Path, per_class: int) -> Path:
    """``per_class`` Fashion-MNIST training images of each class as PNGs in class folders."""
    from PIL import Image

    data = load_image_source("fashion-mnist", split="train", channels=1)
    g = torch.Generator().manual_seed(0)
    for label in range(10):
        idx = (data.labels == label).nonzero().flatten()
        chosen = idx[torch.randperm(len(idx), generator=g)[:per_class]]
        (root / str(label)).mkdir(parents=True)
        for i in chosen.tolist():
            img = data.images[i, 0]
            arr = (img * 255).round().byte() if img.is_floating_point() else img
            Image.fromarray(arr.numpy()).save(root / str(label) / f"{i}.png")
    return root


def fashion_features(args: argparse.Namespace, tmp: Path):
    if args.feature_steps is None:
        try:
            return load_feature_extractor("fashion-mnist")
        except BadInputError:  # not trained yet on this machine
            args.feature_steps = 1500
    from aigc.metrics.train_features import train_features

    folder = tmp / "fashion-features" if args.tiny else None  # the real run fills the user's cache once
    train_features("fashion-mnist", steps=args.feature_steps, progress=False, out=folder)
    return load_feature_extractor(f"dir:{folder}" if folder else "fashion-mnist")


@torch.no_grad()
def fid(model: Path, extractor, real_feats: torch.Tensor, n: int) -> float:
    pipe = aigc.load(str(model), device="cpu")
    images = pipe.generate(n, seed=0, labels=torch.arange(n) % 10, guidance=3.0, steps=20)
    return round(frechet_distance(extractor.features(images), real_feats), 3)


def ddpm_part(args: argparse.Namespace, tmp: Path) -> dict:
    extractor = fashion_features(args, tmp)
    # the reference at the models' resolution: both sides take the same resampling path into the features
    real = load_image_source("fashion-mnist", split="test", image_size=args.image_size, channels=1).images[:args.real]
    real_feats = extractor.features(real)
    subset = fashion_subset(tmp / "fashion1pct", args.per_class)
    settings = dict(DDPM, image_size=args.image_size)
    mnist, pre_cpu = timed(train_image_gen, ImageGenSettings(data="mnist", **settings),
                           budget_config(args.pretrain_s, **DDPM_TRAIN), tmp / "ddpm-mnist")
    runs = {"finetuned": {"transfer": {"init_from": str(tmp / "ddpm-mnist")}}, "scratch": {}}
    out = {"pretrain": {"data": "mnist", "steps": mnist["step"], "cpu_s": pre_cpu}}
    small = {**DDPM_TRAIN, "batch_size": min(DDPM_TRAIN["batch_size"], 10 * args.per_class)}
    for name, ext in runs.items():  # split "all": every one of the folder's images is training data
        summary, cpu = timed(train_image_gen, ImageGenSettings(data=f"folder:{subset}", split="all", **settings),
                             budget_config(args.finetune_s, **small, extensions=ext), tmp / f"ddpm-{name}")
        out[name] = {"steps": summary["step"], "cpu_s": cpu,
                     "fid": fid(tmp / f"ddpm-{name}", extractor, real_feats, args.samples)}
        print("ddpm", name, out[name], file=sys.stderr, flush=True)
    out.update({"train_images": 10 * args.per_class, "image_size": args.image_size, "samples": args.samples,
                "real_images": len(real), "features": extractor.describe(), "model": settings, "train": small,
                "fid_gain": out["scratch"]["fid"] - out["finetuned"]["fid"]})
    return out


def english_text(tmp: Path, vocab: str, chars: int) -> Path:
    """pydoc text restricted to ``vocab`` (others -> space), after one line holding every character."""
    allowed = set(vocab)
    text = "".join(c if c in allowed else " " for c in demo_corpus()[:chars])
    path = tmp / "english.txt"
    path.write_text("".join(sorted(allowed - {"\n"})) + "\n" + text, encoding="utf-8")
    return path


def gpt_part(args: argparse.Namespace, tmp: Path) -> dict:
    src = data_dir("tinyshakespeare") / "tinyshakespeare" / "input.txt"
    if not src.is_file():
        return {"skipped": f"tinyshakespeare not found under {data_dir('tinyshakespeare')}"}
    shakespeare = src.read_text(encoding="utf-8")
    base, pre_cpu = timed(train_text, TextSettings(data=str(src), tokenizer="char", **GPT),
                          budget_config(args.pretrain_s, lr=2e-3, batch_size=32), tmp / "gpt-shakespeare")
    target = english_text(tmp, shakespeare, args.text_chars)
    lora = {"lora": args.lora_rank, "lora_alpha": 2.0 * args.lora_rank, "lora_targets": "*"}
    runs = {"full": (dict(init_from=str(tmp / "gpt-shakespeare")), {}, args.lr_full),
            "lora": (dict(init_from=str(tmp / "gpt-shakespeare")), {"transfer": lora}, args.lr_lora),
            "scratch": (GPT, {}, args.lr_scratch)}
    out = {"pretrain": {"data": "tinyshakespeare", "steps": base["step"], "cpu_s": pre_cpu,
                        "val_perplexity": round(math.exp(base["val_loss"]), 3)}}
    for name, (fields, ext, lr) in runs.items():
        settings = TextSettings(data=str(target), tokenizer="char", **fields)
        summary, cpu = timed(train_text, settings, budget_config(args.finetune_s, lr=lr, batch_size=32,
                                                                 extensions=ext), tmp / f"gpt-{name}")
        row = {"steps": summary["step"], "cpu_s": cpu, "lr": lr, "val_perplexity": round(math.exp(summary["val_loss"]), 3)}
        if name == "lora":
            row["adapter_bytes"] = (tmp / "gpt-lora" / "adapter.safetensors").stat().st_size
        row["model_bytes"] = (tmp / f"gpt-{name}" / "model.safetensors").stat().st_size
        out[name] = row
        print("gpt", name, row, file=sys.stderr, flush=True)
    out.update({"target": "pydoc_data.topics (Python documentation), tinyshakespeare characters only",
                "target_chars": args.text_chars, "model": GPT, "lora_settings": lora})
    return out


def main_(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pretrain-s", type=float, default=300, help="CPU seconds of each source-domain model")
    ap.add_argument("--finetune-s", type=float, default=120, help="CPU seconds of each target-domain run")
    ap.add_argument("--samples", type=int, default=2000, help="generated images per FID")
    ap.add_argument("--real", type=int, default=10_000, help="Fashion-MNIST test images of the FID reference")
    ap.add_argument("--per-class", type=int, default=60, help="target training images per class (60 = 1 %%)")
    ap.add_argument("--image-size", type=int, default=16)
    ap.add_argument("--feature-steps", type=int, default=None, help="train the fashion features this long "
                    "(default: the cached ones, trained 1500 steps when missing)")
    ap.add_argument("--text-chars", type=int, default=300_000, help="characters of the new English text")
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--lr-full", type=float, default=1e-3)
    ap.add_argument("--lr-lora", type=float, default=3e-3)
    ap.add_argument("--lr-scratch", type=float, default=2e-3)
    ap.add_argument("--parts", nargs="+", default=["ddpm", "gpt"], choices=["ddpm", "gpt"])
    ap.add_argument("--tiny", action="store_true", help="tiny budgets: checks the script, numbers mean nothing")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "transfer.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.tiny:
        args.pretrain_s, args.finetune_s, args.samples, args.real = 4, 2, 50, 500
        args.feature_steps, args.text_chars, args.per_class = 20, 20_000, 6
    start = time.process_time()
    result: dict = {"budget": {"pretrain_cpu_s": args.pretrain_s, "finetune_cpu_s": args.finetune_s,
                               "clock": "process CPU time, 1 torch thread"}}
    with tempfile.TemporaryDirectory() as tmp:
        if "ddpm" in args.parts:
            result["ddpm_mnist_to_fashion"] = ddpm_part(args, Path(tmp))
        if "gpt" in args.parts:
            result["gpt_shakespeare_to_english"] = gpt_part(args, Path(tmp))
    result.update({"tiny": args.tiny, "cpu_seconds": round(time.process_time() - start, 1), "machine": machine(),
                   "command": command()})
    atomic_write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main_())
