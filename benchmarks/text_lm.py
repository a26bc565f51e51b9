"""Char-level GPT on tinyshakespeare: aigc's Trainer vs a bare-PyTorch nanoGPT loop, same run.

nanoGPT's shakespeare_char CPU recipe: 4 layers, 4 heads, 128 embedding, context 64, batch 12,
dropout 0, 2000 iterations, lr 1e-3 cosine to 1e-4 after 100 warm-up steps, AdamW betas
(0.9, 0.99), weight decay 0.1, grad clip 1.0, eval every 250 iterations on 20 batches. Both sides
are scored with the same held-out metric (every token of the last 10% of the text, nats/token).
Also measures sampling 256 new tokens with and without the KV cache, and a "tuned" run of ours
(same model and loop, lr 2e-3 cosine to 2e-4, fewer iterations) that reaches a lower val loss in
less wall time than the reference recipe.

    python benchmarks/text_lm.py --threads 1 --budget-s 1800
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from aigc.core.paths import data_dir
from aigc.text.corpus import Corpus, load_corpus
from aigc.text.evaluate import stream_nll
from aigc.text.gpt import GPT, GPTConfig
from aigc.text.objective import GPTObjective
from aigc.text.train import TextSettings, encode_corpus, train
from aigc.text.tokenizer import train_char_tokenizer
from aigc.train import TrainConfig

MODEL = dict(context=64, layers=4, heads=4, embed=128, dropout=0.0)
REF = dict(lr=1e-3, min_lr=1e-4, warmup=100, betas=(0.9, 0.99), weight_decay=0.1, grad_clip=1.0,
           batch=12, eval_interval=250, eval_iters=20)


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "python": sys.version.split()[0]}


def nanogpt_lr(it: int, iters: int) -> float:
    """nanoGPT train.py get_lr: linear warm-up, cosine decay to min_lr at lr_decay_iters."""
    if it < REF["warmup"]:
        return REF["lr"] * (it + 1) / (REF["warmup"] + 1)
    ratio = (it - REF["warmup"]) / (iters - REF["warmup"])
    return REF["min_lr"] + 0.5 * (1.0 + math.cos(math.pi * min(1.0, ratio))) * (REF["lr"] - REF["min_lr"])


def run_reference(train: torch.Tensor, val: torch.Tensor, vocab: int, iters: int, budget_s: float) -> dict:
    """A faithful bare-PyTorch nanoGPT training loop (its model is aigc's GPT with nanoGPT's config)."""
    torch.manual_seed(1337)
    model = GPT(GPTConfig(vocab_size=vocab, **MODEL))
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": REF["weight_decay"]},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=REF["lr"], betas=REF["betas"])  # fused only on CUDA in nanoGPT
    block, batch = MODEL["context"], REF["batch"]

    def get_batch(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ix = torch.randint(len(data) - block, (batch,))
        return (torch.stack([data[i:i + block] for i in ix]), torch.stack([data[i + 1:i + 1 + block] for i in ix]))

    @torch.no_grad()
    def estimate_loss() -> dict:
        model.eval()
        out = {}
        for name, data in (("train", train), ("val", val)):
            losses = [F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item()
                      for x, y in (get_batch(data) for _ in range(REF["eval_iters"]))]
            out[name] = sum(losses) / len(losses)
        model.train()
        return out

    start, evals, it = time.perf_counter(), {}, 0
    eval_s = 0.0
    while it <= iters:
        if it % REF["eval_interval"] == 0:
            t0 = time.perf_counter()
            evals[it] = estimate_loss()
            eval_s += time.perf_counter() - t0
        if it == iters or time.perf_counter() - start > budget_s:
            break
        for g in opt.param_groups:
            g["lr"] = nanogpt_lr(it, iters)
        x, y = get_batch(train)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), REF["grad_clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # log_interval=1 syncs every step
        it += 1
    wall = time.perf_counter() - start
    nll, n = stream_nll(_wrap(model), {"model": model}, val, block)
    return {"val_loss": nll / n, "val_loss_nanogpt_estimate": evals[max(evals)]["val"], "iters": it,
            "wall_s": wall, "train_s": wall - eval_s, "tokens_per_s": it * batch * block / wall,
            "evals": {str(k): v for k, v in evals.items()}}


def _wrap(model: GPT) -> GPTObjective:
    obj = GPTObjective(model.config)
    obj.nets = {"model": model}
    return obj


def run_ours(corpus: Corpus, iters: int, out_dir: Path, seed: int, lr: float = REF["lr"]) -> dict:
    """aigc's Trainer on nanoGPT's recipe (``lr`` and ``iters`` changed only for the tuned run)."""
    spec = TextSettings(data=corpus, arch="gpt", tokenizer="char", **MODEL)
    cfg = TrainConfig(steps=iters, batch_size=REF["batch"], lr=lr, schedule="cosine",
                      warmup_steps=REF["warmup"], min_lr_ratio=REF["min_lr"] / REF["lr"],
                      grad_clip=REF["grad_clip"], device="cpu", seed=seed, progress=False, log_every=10)
    start = time.perf_counter()
    summary = train(spec, cfg, out_dir)
    wall = time.perf_counter() - start
    return {"val_loss": summary["val_loss"], "iters": summary["step"], "wall_s": summary["seconds"],
            "end_to_end_s": wall, "tokens_per_s": iters * REF["batch"] * MODEL["context"] / summary["seconds"],
            "final_train_loss": summary["logs"].get("loss")}


def kv_cache_speedup(new_tokens: int = 256, prompt_tokens: int = 256, repeats: int = 3) -> dict:
    """Greedy decoding of ``new_tokens`` after a ``prompt_tokens`` prompt, KV cache on vs off; the
    benchmark's model shape with a context of 512 so everything fits (weights do not matter)."""
    from aigc.text.pipeline import TextPipeline

    tok = train_char_tokenizer(["abcdefghijklmnopqrstuvwxyz .,\n"])
    obj = GPTObjective(GPTConfig(vocab_size=tok.vocab_size, **{**MODEL, "context": 512}))
    nets = {"model": obj.networks()["model"].eval()}
    pipe = TextPipeline(obj, nets, {"architecture": "gpt"}, tok, torch.device("cpu"), "bench")
    prompt = ("to be or not to be, that is the question.\n" * 10)[:prompt_tokens]
    times = {}
    for cache in (True, False):
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            pipe.generate(prompt, max_tokens=new_tokens, temperature=0, use_cache=cache)
            runs.append(time.perf_counter() - t0)
        times[cache] = min(runs)
    same = (pipe.generate(prompt, max_tokens=new_tokens, temperature=0, use_cache=True)
            == pipe.generate(prompt, max_tokens=new_tokens, temperature=0, use_cache=False))
    return {"speedup": times[False] / times[True], "cached_s": times[True], "uncached_s": times[False],
            "new_tokens": new_tokens, "prompt_tokens": prompt_tokens, "context": 512, "same_text": same}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="default: data_dir()/tinyshakespeare/input.txt")
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both sides (shared machine)")
    ap.add_argument("--budget-s", type=float, default=1800, help="time limit of the reference loop")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--tuned-lr", type=float, default=2e-3, help="also train with this lr ... (0 = skip)")
    ap.add_argument("--tuned-iters", type=int, default=1600, help="... for this many iterations")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "text_lm.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    path = Path(args.data) if args.data else data_dir("tinyshakespeare") / "tinyshakespeare" / "input.txt"
    if not path.is_file():
        print(f"benchmark data {path} not found (set AIGC_DATA_DIR)", file=sys.stderr)
        return 2
    corpus = load_corpus(path)
    result: dict = {"iters": args.iters, "machine": machine(), "command": " ".join(["python"] + sys.argv),
                    "data": "tinyshakespeare/input.txt"}
    result["kv_cache"] = kv_cache_speedup()
    result["kv_cache_speedup"] = result["kv_cache"]["speedup"]
    with tempfile.TemporaryDirectory() as tmp:
        result["ours"] = run_ours(corpus, args.iters, Path(tmp) / "char-gpt", args.seed)
    result.update(val_loss=result["ours"]["val_loss"], wall_s=result["ours"]["wall_s"],
                  tokens_per_s=result["ours"]["tokens_per_s"])
    if args.tuned_lr:
        with tempfile.TemporaryDirectory() as tmp:
            tuned = run_ours(corpus, args.tuned_iters, Path(tmp) / "tuned", args.seed, lr=args.tuned_lr)
        result["tuned"] = {**tuned, "lr": args.tuned_lr, "min_lr": args.tuned_lr * REF["min_lr"] / REF["lr"]}
    if not args.skip_reference:
        tok = train_char_tokenizer(corpus.documents)
        ids = encode_corpus(corpus, tok)
        cut = int(len(ids) * 0.9)
        result["reference"] = run_reference(ids[:cut], ids[cut:], tok.vocab_size, args.iters, args.budget_s)
        ref = result["reference"]
        result["wall_ratio_ours_over_reference"] = result["wall_s"] / ref["wall_s"]
        result["wall_ratio_ours_over_reference_without_its_evals"] = result["wall_s"] / ref["train_s"]
        if "tuned" in result:
            result["tuned"]["wall_ratio_over_reference"] = result["tuned"]["wall_s"] / ref["wall_s"]
    result["note"] = (f"CPU, torch threads={args.threads}, machine shared with other engineers' jobs "
                      f"(timings noisy); both sides run sequentially in one process; wall_s = the "
                      f"training loop (ours: Trainer.fit incl. its checkpoints; reference: its loop incl. "
                      f"nanoGPT's periodic evals; data preparation excluded on both); val_loss = mean "
                      f"NLL over every token of the held-out last 10%.")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
