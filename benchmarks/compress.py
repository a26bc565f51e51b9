"""Compression and export, side by side in one run: size, speed and quality before/after.

Char GPT (trained here on tinyshakespeare's first 90 %, scored on held-out text from its last 10 %;
Python's pydoc_data text when the data folder is absent): the original, int8 (torch.ao dynamic int8
Linear), fp16 and bf16 weights, 50 % magnitude pruning, and the same network in onnxruntime. Each
row gives the model directory's size, tokens/s at batch 1 and batched (sampling through the same
Pipeline, KV cache on), network latency (median ms of timed forward passes on the objective's
example inputs, after warm-up, at batch 1 and batched: ``aigc compress``'s own figure) and
perplexity; a structurally pruned (50 % of MLP units, fine-tuned) and a distilled (half width) GPT
are rows too. A wide char GPT (4 x 768, trained here briefly) gets fp32 / int8 / onnxruntime rows:
the headline ``gpt_int8_*`` keys are its figures (``gpt_small_int8_*``: the default-sized GPT's).
The int8 speed-up is also measured paired (``gpt_int8_speedup_paired``: fp32 and int8
generate alternately, median of the per-pair ratios, with min/max and CPU-time ratios in
``gpt_wide.int8_paired`` and ``gpt.int8_paired``), which a drifting shared machine cannot bias.
Image model: a 28 px DDPM U-Net sampling one image (batch 1) in PyTorch eager vs onnxruntime,
plus the largest pixel difference.

    OMP_NUM_THREADS=1 python benchmarks/compress.py --threads 1          # the recorded run
    OMP_NUM_THREADS=1 python benchmarks/compress.py --tiny --out /tmp/c.json   # a quick check
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command, machine  # noqa: E402

import aigc  # noqa: E402
from aigc.cli import main  # noqa: E402
from aigc.core.paths import data_dir  # noqa: E402
from aigc.text.corpus import demo_corpus  # noqa: E402
from aigc.text.evaluate import perplexity  # noqa: E402
from aigc.tools.compress.core import compress  # noqa: E402
from aigc.tools.compress.latency import latency_ms  # noqa: E402
from aigc.tools.export import export_onnx, use_onnx  # noqa: E402

FULL = dict(gpt=["--context", "128", "--layers", "4", "--heads", "4", "--embed", "256", "--steps", "300",
                 "--batch-size", "16", "--lr", "2e-3"], val_chars=20_000, tokens=96, batched=16,
            unet=["--image-size", "32", "--features", "32"], unet_steps=20,
            large=["--context", "128", "--layers", "12", "--heads", "12", "--embed", "768"], large_tokens=32,
            wide=["--context", "128", "--layers", "4", "--heads", "12", "--embed", "768", "--steps", "300",
                  "--batch-size", "8", "--lr", "1e-3"],
            latency_runs=50, finetune=100, student={"embed": 128}, pairs=9)
TINY = dict(gpt=["--context", "32", "--layers", "2", "--heads", "2", "--embed", "64", "--steps", "20",
                 "--batch-size", "8", "--lr", "3e-3"], val_chars=2_000, tokens=16, batched=4,
            unet=["--image-size", "8", "--features", "8"], unet_steps=3,
            large=["--context", "32", "--layers", "2", "--heads", "2", "--embed", "96"], large_tokens=8,
            wide=["--context", "32", "--layers", "2", "--heads", "2", "--embed", "96", "--steps", "3",
                  "--batch-size", "4", "--lr", "3e-3"],
            latency_runs=3, finetune=3, student={"embed": 32}, pairs=2)
def corpus(root: Path, val_chars: int) -> tuple[Path, Path, str]:
    """tinyshakespeare when the data folder has it, else Python's own documentation text."""
    src = data_dir("tinyshakespeare") / "tinyshakespeare" / "input.txt"
    text = src.read_text(encoding="utf-8") if src.is_file() else demo_corpus()
    cut = int(0.9 * len(text))
    (root / "train.txt").write_text(text[:cut], encoding="utf-8")
    (root / "val.txt").write_text(text[cut:cut + val_chars], encoding="utf-8")
    return root / "train.txt", root / "val.txt", "tinyshakespeare" if src.is_file() else "pydoc_data"


def tokens_per_s(pipe, batch: int, tokens: int, repeats: int = 2) -> float:
    prompts = ["ROMEO:"] * batch
    pipe.generate(prompts, max_tokens=4, seed=0)  # warm-up (allocations, ORT first run)
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        pipe.generate(prompts, max_tokens=tokens, seed=r, temperature=1.0)
        best = min(best, time.perf_counter() - start)
    return batch * tokens / best


def paired_speedup(base, other, batch: int, tokens: int, pairs: int) -> dict:
    """``other``'s tokens/s over ``base``'s, generated alternately (base, other, base, ...) with the
    same prompts and seeds, so the machine's drift hits both: min/median/max of the per-pair ratio,
    by wall clock and by this process's CPU time (1 thread: the same work, less exposed to other
    processes sharing the cores)."""
    prompts = ["ROMEO:"] * batch
    for pipe in (base, other):
        pipe.generate(prompts, max_tokens=4, seed=0)  # warm-up
    ratios: dict[str, list[float]] = {"wall": [], "cpu": []}
    for r in range(pairs):
        spent = {}
        for name, pipe in (("base", base), ("other", other)):
            wall, cpu = time.perf_counter(), time.process_time()
            pipe.generate(prompts, max_tokens=tokens, seed=r, temperature=1.0)
            spent[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        ratios["wall"].append(spent["base"][0] / spent["other"][0])
        ratios["cpu"].append(spent["base"][1] / spent["other"][1])
    return {"batch": batch, "tokens": tokens, "pairs": pairs,
            **{f"{clock}_{k}": f(v) for clock, v in ratios.items()
               for k, f in (("median", statistics.median), ("min", min), ("max", max))}}


def latency_columns(pipe, cfg: dict) -> dict:
    """``latency_ms_batch1`` / ``latency_ms_batch{B}``: median ms per forward pass (see the docstring)."""
    out = latency_ms(pipe.objective, pipe.nets, batches=(1, cfg["batched"]), runs=cfg["latency_runs"])
    return {k: v for k, v in out.items() if k.startswith("latency_ms")}


def gpt_row(name: str, pipe, model: Path, val: Path, cfg: dict, base: dict | None, label: str = "char-gpt") -> dict:
    weights = model / "model.safetensors"
    row = {"model": label, "method": name, "size_bytes": weights.stat().st_size,
           "tokens_per_s_batch1": tokens_per_s(pipe, 1, cfg["tokens"]),
           f"tokens_per_s_batch{cfg['batched']}": tokens_per_s(pipe, cfg["batched"], cfg["tokens"]),
           **latency_columns(pipe, cfg), "perplexity": float(perplexity(pipe, val)["perplexity"])}
    if base is not None:
        row["speedup_batch1"] = row["tokens_per_s_batch1"] / base["tokens_per_s_batch1"]
        key = f"tokens_per_s_batch{cfg['batched']}"
        row[f"speedup_batch{cfg['batched']}"] = row[key] / base[key]
        row["ppl_increase"] = row["perplexity"] / base["perplexity"] - 1
        row["size_ratio"] = base["size_bytes"] / row["size_bytes"]
        for key in [k for k in row if k.startswith("latency_ms")]:
            row[key.replace("latency_ms", "latency_speedup")] = base[key] / row[key]
    print(json.dumps(row), file=sys.stderr)
    return row


def gpt_rows(root: Path, cfg: dict) -> tuple[list[dict], dict]:
    train, val, source = corpus(root, cfg["val_chars"])
    model = root / "gpt"
    start = time.perf_counter()
    assert main(["train", "text", "--arch", "gpt", "--data", str(train), "--tokenizer", "char", *cfg["gpt"],
                 "--no-progress", "--device", "cpu", "--out", str(model)]) == 0
    info = {"data": source, "train_s": time.perf_counter() - start, "settings": cfg["gpt"]}
    fp32 = aigc.load(str(model), device="cpu")
    base = gpt_row("fp32", fp32, model, val, cfg, None)
    rows = [base]
    for name, kw in [("int8", {"quantize": "int8"}), ("fp16", {"quantize": "fp16"}),
                     ("bf16", {"quantize": "bf16"}), ("prune50", {"prune": 0.5}),
                     ("structured50+ft", {"prune": 0.5, "structured": True, "finetune_steps": cfg["finetune"]}),
                     ("distill-half", {"distill_to": cfg["student"], "finetune_steps": cfg["finetune"]})]:
        out = root / f"gpt-{name}"
        compress(model, out, **kw)
        pipe = aigc.load(str(out), device="cpu")
        rows.append(gpt_row(name, pipe, out, val, cfg, base))
        if name == "int8":
            info["int8_paired"] = [paired_speedup(fp32, pipe, b, cfg["tokens"], cfg["pairs"])
                                   for b in (1, cfg["batched"])]
            print(json.dumps(info["int8_paired"]), file=sys.stderr)
    export_onnx(model, root / "gpt.onnx")
    pipe = use_onnx(aigc.load(str(model), device="cpu"), root / "gpt.onnx")
    rows.append(gpt_row("onnxruntime", pipe, model, val, cfg, base))
    return rows, info


def wide_rows(root: Path, cfg: dict) -> tuple[list[dict], dict]:
    """A wide char GPT (4 x 768, ~28M parameters, 113 MB in fp32) trained here briefly: fp32, int8
    and onnxruntime with perplexity. Its weights no longer sit in the core's cache, the regime
    int8 is for; the default-sized GPT above (13 MB) is bound by per-token overhead instead."""
    train, val = root / "train.txt", root / "val.txt"
    model = root / "gpt-wide"
    start = time.perf_counter()
    assert main(["train", "text", "--arch", "gpt", "--data", str(train), "--tokenizer", "char", *cfg["wide"],
                 "--no-progress", "--device", "cpu", "--out", str(model)]) == 0
    info = {"train_s": time.perf_counter() - start, "settings": cfg["wide"]}
    label = "char-gpt-wide"
    fp32 = aigc.load(str(model), device="cpu")
    base = gpt_row("fp32", fp32, model, val, cfg, None, label)
    compress(model, root / "gpt-wide-int8", quantize="int8")
    int8 = aigc.load(str(root / "gpt-wide-int8"), device="cpu")
    rows = [base, gpt_row("int8", int8, root / "gpt-wide-int8", val, cfg, base, label)]
    info["int8_paired"] = [paired_speedup(fp32, int8, b, cfg["tokens"], cfg["pairs"]) for b in (1, cfg["batched"])]
    print(json.dumps(info["int8_paired"]), file=sys.stderr)
    export_onnx(model, root / "gpt-wide.onnx")
    ort = use_onnx(aigc.load(str(model), device="cpu"), root / "gpt-wide.onnx")
    rows.append(gpt_row("onnxruntime", ort, model, val, cfg, base, label))
    return rows, info


def large_rows(root: Path, cfg: dict) -> list[dict]:
    """GPT-2-small-shaped char model (12 x 768, ~85M parameters), one training step: speed only.
    Its weights (340 MB in fp32) no longer fit in cache, the regime where int8 pays at batch 1."""
    train = root / "train.txt"
    model = root / "gpt-large"
    assert main(["train", "text", "--arch", "gpt", "--data", str(train), "--tokenizer", "char", *cfg["large"],
                 "--steps", "1", "--batch-size", "1", "--no-progress", "--device", "cpu", "--out", str(model)]) == 0
    compress(model, root / "gpt-large-int8", quantize="int8")
    export_onnx(model, root / "gpt-large.onnx")
    pipes = {"fp32": aigc.load(str(model), device="cpu"),
             "int8": aigc.load(str(root / "gpt-large-int8"), device="cpu"),
             "onnxruntime": use_onnx(aigc.load(str(model), device="cpu"), root / "gpt-large.onnx")}
    rows = []
    for name, pipe in pipes.items():
        d = root / "gpt-large-int8" if name == "int8" else model
        row = {"model": "gpt2-small-shape (untrained, speed only)", "method": name,
               "size_bytes": (d / "model.safetensors").stat().st_size,
               "tokens_per_s_batch1": tokens_per_s(pipe, 1, cfg["large_tokens"]),
               f"tokens_per_s_batch{cfg['batched']}": tokens_per_s(pipe, cfg["batched"], cfg["large_tokens"]),
               **latency_columns(pipe, cfg)}
        if rows:
            for key in ("tokens_per_s_batch1", f"tokens_per_s_batch{cfg['batched']}"):
                row[key.replace("tokens_per_s", "speedup")] = row[key] / rows[0][key]
            for key in [k for k in row if k.startswith("latency_ms")]:
                row[key.replace("latency_ms", "latency_speedup")] = rows[0][key] / row[key]
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    return rows


def unet_row(root: Path, cfg: dict) -> dict:
    model = root / "ddpm"
    assert main(["train", "image-gen", "--arch", "ddpm", "--cond", "--data", "digits", *cfg["unet"], "--steps", "2",
                 "--batch-size", "8", "--no-progress", "--device", "cpu", "--out", str(model)]) == 0
    export_onnx(model, root / "unet.onnx")
    eager = aigc.load(str(model), device="cpu")
    ort = use_onnx(aigc.load(str(model), device="cpu"), root / "unet.onnx")
    kw = {"labels": 3, "steps": cfg["unet_steps"], "guidance": 1.0}  # one U-Net call per step, batch 1
    times = {}
    for name, pipe in (("eager", eager), ("onnxruntime", ort)):
        pipe.generate(1, seed=0, **kw)
        times[name] = min(_timed(pipe.generate, 1, seed=s, **kw) for s in range(3))
    diff = float((eager.generate(1, seed=9, **kw) - ort.generate(1, seed=9, **kw)).abs().max())
    lat = {name: latency_columns(pipe, cfg) for name, pipe in (("eager", eager), ("onnxruntime", ort))}
    return {"model": "ddpm-unet", "method": "onnxruntime vs eager", "batch": 1, "sampling_steps": cfg["unet_steps"],
            **{f"{name}_{k}": v for name, cols in lat.items() for k, v in cols.items()},
            "size_bytes": (root / "unet.onnx").stat().st_size, "eager_images_per_s": 1 / times["eager"],
            "onnx_images_per_s": 1 / times["onnxruntime"], "speedup_batch1": times["eager"] / times["onnxruntime"],
            "max_abs_pixel_diff": diff}


def _timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def main_(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tiny", action="store_true", help="tiny sizes: checks the script, numbers mean nothing")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "compress.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = TINY if args.tiny else FULL
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows, info = gpt_rows(Path(tmp), cfg)
        wide, wide_info = wide_rows(Path(tmp), cfg)
        large = large_rows(Path(tmp), cfg)
        image = unet_row(Path(tmp), cfg)
    by, wby = {r["method"]: r for r in rows}, {r["method"]: r for r in wide}
    paired, wpaired = info["int8_paired"], wide_info["int8_paired"]
    b = cfg["batched"]
    # the headline int8 figures are the wide GPT's (the size int8 is for); the default-sized one's
    # are the gpt_small_* keys
    result = {"gpt_int8_speedup": wby["int8"]["speedup_batch1"],
              "gpt_int8_speedup_paired": wpaired[0]["wall_median"],
              f"gpt_int8_speedup_paired_batch{b}": wpaired[1]["wall_median"],
              f"gpt_int8_speedup_batch{b}": wby["int8"][f"speedup_batch{b}"],
              "gpt_int8_ppl_increase": wby["int8"]["ppl_increase"],
              "gpt_int8_model": "char-gpt-wide (4 x 768)",
              "gpt_small_int8_speedup": by["int8"]["speedup_batch1"],
              "gpt_small_int8_speedup_paired": paired[0]["wall_median"],
              f"gpt_small_int8_speedup_paired_batch{b}": paired[1]["wall_median"],
              "gpt_small_int8_ppl_increase": by["int8"]["ppl_increase"],
              "onnx_speedup_batch1": image["speedup_batch1"],
              "gpt_onnx_speedup_batch1": by["onnxruntime"]["speedup_batch1"],
              "gpt_wide_onnx_speedup_batch1": wby["onnxruntime"]["speedup_batch1"],
              "gpt_large_int8_speedup": large[1]["speedup_batch1"],
              "rows": [*rows, *wide, *large, image], "gpt": info, "gpt_wide": wide_info, "tiny": args.tiny,
              "seconds": time.perf_counter() - start,
              "machine": machine(), "command": command()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("rows", "machine")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main_())
