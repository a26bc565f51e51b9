"""Moving MNIST 10 -> 10 frame prediction against the OpenSTL table, and frame interpolation.

Scores every model on the fixed test set (``aigc.data.moving_mnist.test_set``: the canonical
``mnist_test_seq.npy`` when present, else 10,000 sequences of MNIST test digits, seed 42) with
OpenSTL's metrics (MSE summed over the 64x64 frame, averaged over frames and sequences; SSIM;
PSNR). Models:

- ``copy_last_frame``: the last context frame repeated (no training; always reported);
- ``convlstm`` and ``simvp``: trained through ``aigc.video.train.train`` (the CLI's code path) for
  ``--budget`` process-CPU seconds each, in segments; after each segment the model is scored on the
  first ``--curve-size`` test sequences, giving the MSE-vs-CPU-time curve;
- ``simvp_conv``: SimVP with the dense-convolution translator (``--translator conv``, 7.6 M
  parameters) trained under bf16 autocast: on a CPU with AMX its 3x3 convolutions run ~10x faster
  than in fp32, so it trains a model 11x the size of ``simvp`` at 0.65x its CPU time per step. It
  trains with Muon on its hidden weights (``aigc.train.muon``): one CPU hour on the same machine,
  side by side, MSE 59.8 against Adam's 70 (``--optimizer adam`` reruns the Adam recipe);
- ``layered``: the layered sprite predictor (``aigc.video.layered``): soft
  masks cut the last context frame into layers, each moved by predicted shift distributions and
  overlaid with a max; it learns which pixels move together and where, not how to draw them.
  bf16 with Muon at 2e-3;
- ``interp``: middle-frame prediction (frames t, t+2 -> t+1) against a linear blend, same test set;
- ``diffusion`` (not in the default list): class-conditional 32x32 x 16-frame clips of one digit,
  scored by the Fréchet distance in the features of a ``clip-classifier`` trained for a quarter of
  the budget, next to the real-vs-real floor, and by the classifier's accuracy on the conditioning.

Also writes ``<out>_sheet.png``: the first test sequence (context | truth) and each model's prediction;
with ``diffusion``, ``<out>_generated.png``: one generated clip per digit class.

OpenSTL anchors (200 GPU-epochs): ConvLSTM-S 29.80 / 0.929, SimVP 32.15 / 0.927, PredRNN++ 22.06 /
0.951. Goal within 60 CPU-min per model: MSE <= 45 and well under copy-last-frame.

    OMP_NUM_THREADS=1 python benchmarks/video_mmnist.py --budget 3600
    OMP_NUM_THREADS=1 python benchmarks/video_mmnist.py --budget 20 --test-size 200 --out /tmp/v.json

On a GPU (``--device cuda``) budgets are wall-clock seconds of training (the GPU synchronised
before each reading) and each row records its device; the default stays the CPU, so a GPU in the
machine never changes what a CPU-minute figure means:

    python benchmarks/video_mmnist.py --models simvp_conv --device cuda --budget 360 --batch-size 64

Models are independent, so a run may be split over processes and joined (the sheet is drawn from the
models kept in the runs' ``--work`` folders):

    python benchmarks/video_mmnist.py --models copy_last_frame,simvp --work A --out a.json
    python benchmarks/video_mmnist.py --models convlstm,interp --budget 900 --work B --out b.json
    python benchmarks/video_mmnist.py --merge a.json b.json --models-from A,B
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import command, machine  # noqa: E402

from aigc.core.atomic import atomic_write_json  # noqa: E402
from aigc.core.device import select_device  # noqa: E402
from aigc.core.errors import BadInputError  # noqa: E402
from aigc.core.pipeline import load_pipeline  # noqa: E402
from aigc.data.moving_mnist import TEST_SEED, test_set  # noqa: E402
from aigc.train.config import TrainConfig  # noqa: E402
from aigc.video.artifacts import save_contact_sheet  # noqa: E402
from aigc.video.defaults import GUIDANCE  # noqa: E402
from aigc.video.evaluate import copy_last_frame, evaluate_model, evaluate_prediction  # noqa: E402
from aigc.video.train import VideoSettings, train  # noqa: E402

ANCHORS = {"ConvLSTM-S": {"mse": 29.80, "ssim": 0.929}, "SimVP": {"mse": 32.15, "ssim": 0.927},
           "PredRNN++": {"mse": 22.06, "ssim": 0.951},
           "PredRNN++ (2000 epochs)": {"mse": 14.07, "ssim": 0.970}}
# benchmark model name -> (architecture, VideoSettings fields); other names are architectures
VARIANTS = {"simvp_conv": ("simvp", {"translator": "conv"})}
# per model: batch size, learning rate (precision, optimizer) for a short CPU run; simvp_conv's dense
# convolutions (3.6x) and the diffusion denoiser (2x) train in bf16 on a CPU with AMX; without it pass --fp32
RECIPES = {"convlstm": {"batch_size": 16, "lr": 1e-3}, "simvp": {"batch_size": 16, "lr": 1e-3},
           "simvp_conv": {"batch_size": 16, "lr": 1e-3, "precision": "bf16", "optimizer": "muon"},
           "layered": {"batch_size": 16, "lr": 2e-3, "precision": "bf16", "optimizer": "muon"},
           "interp": {"batch_size": 32, "lr": 1e-3},
           "diffusion": {"batch_size": 32, "lr": 1e-3, "precision": "bf16"},
           "clip-classifier": {"batch_size": 32, "lr": 2e-3}}


def _clock(args: argparse.Namespace) -> float:
    """Seconds that budgets count: process CPU time on the CPU, wall time (synchronised) on a GPU."""
    if args.device.type == "cuda":
        torch.cuda.synchronize(args.device)
    elif args.device.type == "mps":
        torch.mps.synchronize()
    return time.process_time() if args.device.type == "cpu" else time.perf_counter()


def _settings(name: str, **fields) -> VideoSettings:
    arch, extra = VARIANTS.get(name, (name, {}))
    return VideoSettings(arch=arch, **extra, **fields)


def _shape(args: argparse.Namespace) -> dict:
    """--width / --layers, when given (the architecture's own width and depth otherwise)."""
    return {k: v for k, v in (("width", args.width), ("layers", args.layers)) if v is not None}


def _recipe(name: str, args: argparse.Namespace) -> dict:
    overrides = {k: v for k, v in (("batch_size", args.batch_size), ("lr", args.lr), ("optimizer", args.optimizer))
                 if v is not None}
    return {**RECIPES[name], **overrides, **({"precision": "fp32"} if args.fp32 else {}),
            "device": str(args.device)}


def _seconds_per_step(name: str, args: argparse.Namespace, work: Path) -> float:
    """Budget seconds (:func:`_clock`) per optimizer step: two resumed probes (4 and 12 steps on the
    CPU) after a first untimed one, differenced, so the fixed cost of a run (loading, data, writing)
    cancels (timing one short run put it into the steps: 0.53 s per simvp_conv step against 0.42 over
    the whole run)."""
    settings = _settings(name, data=args.data, sequences=256, validate=False, **_shape(args))
    cfg = TrainConfig(steps=1, progress=False, seed=args.seed, checkpoint_every=10**9, **_recipe(name, args))
    took = []
    short, long = (4, 12) if args.device.type == "cpu" else (20, 100)  # a GPU step is ~100x shorter
    for steps in (short, long):
        probe = work / f"probe-{name}-{steps}"
        train(settings, cfg, probe)
        start = _clock(args)
        train(settings, cfg.replace(steps=1 + steps), probe, resume=True)
        took.append(_clock(args) - start)
        shutil.rmtree(probe)
    return max(1e-4, (took[1] - took[0]) / (long - short))


def train_scored(name: str, args: argparse.Namespace, frames, work: Path, budget: float | None = None,
                 score: bool = True) -> dict:
    """Train ``name`` for ``budget`` CPU seconds in ``args.segments`` pieces, scoring each."""
    budget = args.budget if budget is None else budget
    out, state_file = work / name, work / name / "bench_state.json"
    state = json.loads(state_file.read_text()) if args.resume and state_file.exists() else None
    steps = state["steps"] if state else max(2, int(budget / _seconds_per_step(name, args, work)))
    settings = _settings(name, data=args.data, sequences=args.sequences, validate=False, **_shape(args))
    config = TrainConfig(steps=steps, schedule="cosine", warmup_steps=min(200, steps // 20),
                         grad_clip=1.0, seed=args.seed, progress=False, checkpoint_every=10**9,
                         time_limit_clock="cpu" if args.device.type == "cpu" else "wall", **_recipe(name, args))
    cpu, cpu_only, curve, summary, first = 0.0, 0.0, [], {}, 0  # budget seconds; process CPU seconds
    if state:  # --resume: continue after the last finished segment (its checkpoint, CPU time and curve)
        cpu, curve, first = state["cpu_s"], state["curve"], state["segment"] + 1
        summary = {"step": curve[-1]["step"]}
    curve_frames = frames[:args.curve_size] if score else None
    for seg in range(first, args.segments if score else 1):
        left = budget - cpu
        if left <= 0 or summary.get("step", 0) >= steps:
            break
        last = seg == args.segments - 1 or not score
        seg_cfg = config.replace(time_limit_s=left if last else budget / args.segments)
        start, start_cpu = _clock(args), time.process_time()
        summary = train(settings, seg_cfg, out, resume=seg > 0 or bool(state))
        cpu += _clock(args) - start
        cpu_only += time.process_time() - start_cpu
        if not score:
            return {**_spent(args, cpu, cpu_only), "steps": summary.get("step", 0), "out": out,
                    "logs": summary.get("logs", {})}
        pipe = load_pipeline(out, device=args.device)
        scores = evaluate_model(pipe.objective, pipe.nets, curve_frames, device=args.device, progress=False)
        point = {"cpu_s": round(cpu, 1), "step": summary["step"], "mse": scores["mse"]}
        point.update({k: scores[k] for k in ("ssim", "psnr", "blend_psnr") if k in scores})
        curve.append(point)
        atomic_write_json(state_file, {"cpu_s": cpu, "curve": curve, "steps": steps, "segment": seg})
        print(f"{name}: {point}", file=sys.stderr, flush=True)
    pipe = load_pipeline(out, device=args.device)
    final = evaluate_model(pipe.objective, pipe.nets, frames, device=args.device, progress=not args.quiet)
    if pipe.kind == "prediction":  # the first test sequence, for the contact sheet
        SHEET[_row(name, args)] = pipe.predict(_first_clip(frames)[:10], frames=10).cpu()
    return {**final, **_spent(args, cpu, cpu_only), "steps": summary.get("step", 0), "planned_steps": steps,
            "model": pipe.config["model"], "train": {k: pipe.config["train"].get(k) for k in
                                                      ("batch_size", "lr", "optimizer", "schedule", "seed", "precision")},
            "curve": curve, "curve_sequences": len(curve_frames),
            **({"resumed_after_segment": state["segment"]} if state else {})}


def _spent(args: argparse.Namespace, budget_s: float, cpu_s: float) -> dict:
    """A row's time keys: ``cpu_s`` on the CPU; on a GPU ``gpu_wall_s``, process ``cpu_s`` and the device."""
    if args.device.type == "cpu":
        return {"cpu_s": round(budget_s, 1)}
    name = torch.cuda.get_device_name(args.device) if args.device.type == "cuda" else args.device.type
    return {"gpu_wall_s": round(budget_s, 1), "cpu_s": round(cpu_s, 1), "device": name}


def _row(name: str, args: argparse.Namespace) -> str:
    return f"{name}_{args.tag}" if args.tag else name


SHEET: dict[str, torch.Tensor] = {}  # model -> its prediction of the first test sequence


def _first_clip(frames) -> torch.Tensor:
    return torch.from_numpy(np.array(frames[0], dtype=np.uint8)).float().div(255).unsqueeze(1)


def write_sheet(frames, path: Path) -> None:
    """Context | truth, then one row per model: its prediction of the first test sequence."""
    clip = _first_clip(frames)
    preds = {"copy_last_frame": copy_last_frame(clip[None, :10], 10)[0], **SHEET}
    save_contact_sheet(path, clip[:10], clip[10:], preds, {"benchmark": "video_mmnist", "sequence": 0})


def write_generated_sheet(pipe, path: Path, *, seed: int = 0, steps: int = 30,
                          guidance: float = GUIDANCE) -> Path:
    """One generated clip per class (rows "zero" .. "nine"), frames left to right."""
    from aigc.core.artifacts import save_png
    from aigc.data.images import DIGIT_NAMES
    from aigc.video.artifacts import labelled_sheet

    n = max(1, pipe.objective.config.num_classes)
    labels = list(range(n)) if pipe.objective.config.num_classes else None
    clips = pipe.generate(n, seed=seed, labels=labels, steps=steps, guidance=guidance)
    names = [DIGIT_NAMES[i] if i < len(DIGIT_NAMES) else str(i) for i in labels] if labels else ["any class"]
    meta = {"benchmark": "video_mmnist", "rows": names, "seed": seed, "steps": steps, "guidance": guidance}
    return save_png(path, labelled_sheet(list(clips), names), meta)


def train_generation(args: argparse.Namespace, work: Path) -> dict:
    """The clip classifier (a quarter of the budget), then the diffusion model, then FVD."""
    from aigc.video.evaluate import evaluate_generation

    clf = train_scored("clip-classifier", args, None, work, budget=args.budget / 4, score=False)
    gen = train_scored("diffusion", args, None, work, score=False)
    write_generated_sheet(load_pipeline(gen["out"], device="cpu"),
                          Path(args.out).with_name(Path(args.out).stem + "_generated.png"))
    source = "digits" if args.data == "moving-digits" else "mnist"
    scores = evaluate_generation(load_pipeline(gen["out"], device="cpu"), load_pipeline(clf["out"], device="cpu"),
                                 n=args.gen_clips, steps=30, guidance=GUIDANCE, source=source,
                                 progress=not args.quiet)
    config = load_pipeline(gen["out"], device="cpu").config
    spent = ("cpu_s", "gpu_wall_s", "device")
    return {**scores, **{k: gen[k] for k in spent if k in gen}, "steps": gen["steps"], "model": config["model"],
            "train": {k: config["train"].get(k) for k in ("batch_size", "lr", "optimizer", "schedule", "seed", "precision")},
            "classifier": {**{k: clf[k] for k in spent if k in clf}, "steps": clf["steps"],
                           "train_accuracy": clf["logs"].get("accuracy")}}


def merge(files: list[str], model_dirs: list[str], out: str, test_size: int, note: str = "") -> dict:
    """One result from runs split over processes (models are independent): rows joined, commands kept,
    and the contact sheet drawn from the trained models kept in the runs' ``--work`` folders."""
    parts = [json.loads(Path(f).read_text()) for f in files]
    commands = [c for p in parts for c in (p["command"] if isinstance(p["command"], list) else [p["command"]])]
    result = {**parts[0], "command": commands + [command()],
              "budget_cpu_s": {k: v for p in parts for k, v in p.get("budget_cpu_s", {}).items() if k in p}}
    gpu = {k: v for p in parts for k, v in p.get("budget_gpu_wall_s", {}).items() if k in p}
    if gpu:
        result["budget_gpu_wall_s"] = gpu
    for part in parts[1:]:
        rows = {k: v for k, v in part.items() if isinstance(v, dict) and ("mse" in v or "fvd_classifier" in v)}
        if part.get("machine") != result.get("machine"):  # e.g. a GPU row: it keeps the machine it ran on
            rows = {k: {**v, "machine": part.get("machine")} for k, v in rows.items()}
        result.update(rows)
    if note:
        result["note"] = note
    frames = test_set(test_size) if model_dirs else None
    for name in ("convlstm", "simvp", "simvp_conv", "layered"):
        found = [Path(d) / name for d in model_dirs if (Path(d) / name / "config.json").exists()]
        if name in result and found:
            SHEET[name] = load_pipeline(found[0], device="cpu").predict(_first_clip(frames)[:10], frames=10)
    atomic_write_json(out, result)
    if SHEET:
        write_sheet(frames, Path(out).with_name(Path(out).stem + "_sheet.png"))
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="copy_last_frame,convlstm,simvp,simvp_conv,layered,interp")
    ap.add_argument("--budget", type=float, default=3600,
                    help="seconds of training per model: process CPU seconds (on a GPU: wall seconds)")
    ap.add_argument("--budgets", default="",
                    help="per-model overrides of --budget, e.g. convlstm=900,interp=300")
    ap.add_argument("--segments", type=int, default=6, help="points on the MSE-vs-CPU-time curve")
    ap.add_argument("--test-size", type=int, default=10_000)
    ap.add_argument("--curve-size", type=int, default=500, help="test sequences scored at each curve point")
    ap.add_argument("--sequences", type=int, default=200_000, help="training pool (recipes, rendered per batch)")
    ap.add_argument("--data", default="moving-mnist", choices=["moving-mnist", "moving-digits"])
    ap.add_argument("--gen-clips", type=int, default=500, help="clips compared for the diffusion FVD")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu",
                    help="cpu (default), cuda, mps or auto; on a GPU --budget counts wall-clock seconds")
    ap.add_argument("--tag", default="", help="suffix of the result rows' names (simvp_conv -> simvp_conv_TAG)")
    ap.add_argument("--batch-size", type=int, default=None, help="override every trained model's batch size")
    ap.add_argument("--lr", type=float, default=None, help="override every trained model's learning rate")
    ap.add_argument("--width", type=int, default=None, help="override the trained models' width (simvp: translator)")
    ap.add_argument("--layers", type=int, default=None, help="override the trained models' depth (simvp: blocks)")
    ap.add_argument("--optimizer", choices=["adam", "muon"], default=None,
                    help="override every trained model's optimizer (aigc.train.muon)")
    ap.add_argument("--fp32", action="store_true", help="train every model in fp32 (for CPUs without bf16 units)")
    ap.add_argument("--work", default=None, help="keep the trained models here (default: a temporary folder)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--resume", action="store_true",
                    help="with --work: a model whose run was interrupted continues after its last finished "
                         "segment (checkpoint, CPU seconds and curve kept in <work>/<model>/bench_state.json)")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="join the results of runs split over processes into --out (with --models-from)")
    ap.add_argument("--models-from", default="", help="with --merge: the runs' --work folders, comma-separated")
    ap.add_argument("--note", default="", help="with --merge: replaces the first file's note (how the runs were split)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "video_mmnist.json"))
    args = ap.parse_args()
    try:
        budgets = {k.strip(): float(v) for k, v in (kv.split("=") for kv in args.budgets.split(",") if kv.strip())}
    except ValueError:
        ap.error(f"--budgets wants model=seconds pairs separated by commas, got {args.budgets!r}")
    torch.set_num_threads(args.threads)
    try:
        args.device = select_device(args.device)
    except BadInputError as exc:
        ap.error(str(exc))
    if args.merge:
        model_dirs = [d for d in args.models_from.split(",") if d]
        missing = [f for f in args.merge + model_dirs if not Path(f).exists()]
        if missing:
            ap.error(f"--merge: no such file or folder: {', '.join(missing)}")
        merge(args.merge, model_dirs, args.out, args.test_size, args.note)
        print(f"wrote {args.out}")
        return 0
    frames = test_set(args.test_size)
    result = {"machine": machine(), "command": command(), "anchors_openstl": ANCHORS,
              "test_set": {"sequences": int(len(frames)), "seed": TEST_SEED, "frames": 20,
                           "metric": "OpenSTL: MSE summed over the 64x64 frame, mean over frames and "
                                     "sequences; SSIM Gaussian sigma 1.5; PSNR data range 1"},
              "budget_cpu_s": {_row(name, args): budgets.get(name, args.budget) for name in args.models.split(",")}}
    if args.device.type != "cpu":  # budgets were GPU wall seconds
        result["budget_gpu_wall_s"] = result.pop("budget_cpu_s")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="video-bench-"))
    try:
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            row = _row(name, args)
            if name == "copy_last_frame":
                start = time.process_time()
                scores = evaluate_prediction(copy_last_frame, frames, progress=not args.quiet)
                result[row] = {**scores, "cpu_s": 0.0, "eval_cpu_s": round(time.process_time() - start, 1)}
            elif name == "diffusion":
                result[row] = train_generation(args, work)
            else:
                result[row] = train_scored(name, args, frames, work, budget=budgets.get(name))
            keys = ("mse", "ssim", "psnr", "blend_psnr", "fvd_classifier", "fvd_floor_real_vs_real",
                    "conditional_accuracy")
            summary = {k: round(result[row][k], 4) for k in keys if k in result[row]}
            print(f"{row}: {summary}", flush=True)
            atomic_write_json(args.out, result)
        if SHEET:
            write_sheet(frames, Path(args.out).with_name(Path(args.out).stem + "_sheet.png"))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
