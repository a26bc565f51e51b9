"""Restoration benchmark: SR x2/x4 on Set5/Set14 and denoising (sigma 25) on BSD68 after training on
T91 / Train400 for a fixed CPU-time budget per model.

Protocol (as in the SRCNN / DnCNN tables): HR images modcropped to the scale, LR made by bicubic
downscaling (PIL on uint8; MATLAB imresize differs slightly, see ``aigc.restore.degrade``),
PSNR/SSIM on the BT.601 Y channel with ``shave = scale`` of the uint8 output; denoising adds
seeded Gaussian noise (sigma 25 on 0-255, not clipped) to grey images, PSNR/SSIM on [0, 1].

    python benchmarks/restore.py --budget-s 300 --threads 1
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import aigc
from aigc.core.atomic import atomic_write_json
from aigc.core.paths import data_dir
from aigc.metrics import psnr, ssim
from aigc.data.color import array_to_tensor, tensor_to_array
from aigc.restore.data import load_images
from aigc.restore.degrade import add_noise, bicubic_downscale, bicubic_upscale, modcrop
from aigc.restore.train import RestoreSettings, build_training, train
from aigc.train.config import TrainConfig

ANCHORS = {"set5": {"x2": {"bicubic": 33.66, "SRCNN": 36.66}, "x4": {"bicubic": 28.42, "SRCNN": 30.48}},
           "bsd68": {"sigma25": {"BM3D": 28.57, "DnCNN": 29.23}}}
RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    import os

    return {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": sys.version.split()[0]}


def seconds_per_step(objective, data: dict, batch_size: int, steps: int = 6) -> float:
    """Median process CPU time of a few optimizer steps on a throw-away copy (sizes the run to the
    CPU-time budget; CPU time, unlike wall time, barely moves when other jobs share the machine)."""
    obj = copy.deepcopy(objective)
    opt = next(iter(obj.configure_optimizers(obj.nets, 1e-4).values()))
    ctx = type("Ctx", (), {"generator": torch.Generator().manual_seed(0)})()
    times = []
    for i in range(steps):
        batch = {k: v[i * batch_size:(i + 1) * batch_size] for k, v in data.items()}
        t = time.process_time()
        obj.training_step(obj.nets, batch, ctx)["loss"].backward()
        opt.step()
        opt.zero_grad()
        times.append(time.process_time() - t)
    return float(np.median(times[1:]))


def train_budget(kind: str, arch: str, fields: dict, *, data: str, budget_s: float, out: Path,
                 batch_size: int, lr: float, patch: int, patches: int) -> tuple[object, dict]:
    objective, tensors, meta = build_training(kind, arch, data, patch=patch, patches=patches, seed=0, **fields)
    per_step = seconds_per_step(objective, tensors, batch_size)
    steps = max(20, int(0.95 * budget_s / per_step))
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, schedule="cosine", device="cpu",
                      seed=0, progress=False, log_every=50, checkpoint_every=10**9)
    cpu0 = time.process_time()
    settings = RestoreSettings(kind=kind, arch=arch, data=data, patch=patch, patches=patches, **fields)
    summary = train(settings, cfg, out)  # the task's own train(), as the CLI runs it
    cpu_s = time.process_time() - cpu0
    info = {"arch": arch, **fields, "steps": steps, "batch_size": batch_size, "lr": lr, "patch": patch,
            "patches": patches, "train_seconds": round(summary["seconds"], 1),
            "train_cpu_seconds": round(cpu_s, 1),
            "estimated_cpu_s_per_step": round(per_step, 4)}
    print(f"  {arch} {fields}: {steps} steps in {summary['seconds']:.0f}s", flush=True)
    return aigc.load(str(out), device="cpu"), info


def eval_sr(pipe, scale: int, sets: list[str]) -> tuple[dict, dict, dict]:
    """{set: {"psnr_y", "ssim_y"}} for the model and for bicubic, plus crops for the sheet."""
    model, bicubic, crops = {}, {}, {}
    for name in sets:
        arrays, names = load_images(name)
        scores = {"m": ([], []), "b": ([], [])}
        for arr, img_name in zip(arrays, names):
            hr = modcrop(arr, scale)
            lr = bicubic_downscale(hr, scale)
            bic = bicubic_upscale(lr, scale)
            sr = tensor_to_array(pipe.upscale(array_to_tensor(lr)))
            sr = sr[..., 0] if hr.ndim == 2 else sr
            for key, out in (("m", sr), ("b", bic)):
                a, b = array_to_tensor(out), array_to_tensor(hr)
                scores[key][0].append(psnr(a, b, y_channel=True, shave=scale))
                scores[key][1].append(ssim(a, b, y_channel=True, shave=scale))
            if name == "set5" and img_name.startswith("butterfly"):
                crops = {"HR": hr, "bicubic": bic, "model": sr}
        model[name] = {"psnr_y": float(np.mean(scores["m"][0])), "ssim_y": float(np.mean(scores["m"][1]))}
        bicubic[name] = {"psnr_y": float(np.mean(scores["b"][0])), "ssim_y": float(np.mean(scores["b"][1]))}
    return model, bicubic, crops


def eval_denoise(pipe, sigma: float, name: str) -> tuple[dict, dict, dict]:
    arrays, _ = load_images(name, mode="L")
    res = {"m": ([], []), "n": ([], [])}
    crops = {}
    for i, arr in enumerate(arrays):
        clean = array_to_tensor(arr).double()
        noisy = add_noise(clean, sigma, torch.Generator().manual_seed(i)).float()
        out = pipe.denoise(noisy).double()
        for key, img in (("m", out), ("n", noisy.double().clamp(0, 1))):
            res[key][0].append(psnr(img, clean))
            res[key][1].append(ssim(img, clean))
        if i == 0:
            crops = {"clean": arr, "noisy": tensor_to_array(noisy)[..., 0], "model": tensor_to_array(out)[..., 0]}
    pack = lambda k: {"psnr": float(np.mean(res[k][0])), "ssim": float(np.mean(res[k][1]))}  # noqa: E731
    return pack("m"), pack("n"), crops


def crop_sheet(rows: list[tuple[str, dict]], path: Path, size: int = 128) -> None:
    """One row per task: centre crops of the same region, labelled, side by side."""
    from PIL import Image, ImageDraw

    cols = max(len(r[1]) for r in rows)
    sheet = Image.new("RGB", (cols * (size + 4) + 4, len(rows) * (size + 18) + 4), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (title, images) in enumerate(rows):
        for c, (label, arr) in enumerate(images.items()):
            h, w = arr.shape[:2]
            y, x = max(0, h // 2 - size // 2), max(0, w // 2 - size // 2)
            tile = Image.fromarray(arr[y:y + size, x:x + size]).convert("RGB")
            px, py = 4 + c * (size + 4), 4 + r * (size + 18)
            sheet.paste(tile, (px, py + 14))
            draw.text((px, py), f"{title}: {label}", fill="black")
    from aigc.core.artifacts import save_png

    save_png(path, np.asarray(sheet), {"what": "restore benchmark crops"})


SR_FIELDS = {"espcn": {"features": 64}, "srresnet": {"features": 32, "blocks": 6}}
# dncnn: the paper's layout (batch norm) at 10x32; dncnn-nobn drops batch norm, which trains faster
# on a short budget (BN's benefit in Zhang et al. 2017 is with SGD over 50 epochs)
DENOISE_ARCHS = {"dncnn": ("dncnn", {"depth": 10, "features": 32}),
                 "dncnn-nobn": ("dncnn", {"depth": 10, "features": 32, "batch_norm": False}),
                 "dae": ("dae", {})}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget-s", type=float, default=1800, help="training CPU seconds per model")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--tasks", nargs="+", default=["sr", "denoise"], choices=["sr", "denoise"],
                   help="what to run; the result file keeps the other task's figures from an earlier run")
    p.add_argument("--sr-arch", default="srresnet", choices=list(SR_FIELDS))
    p.add_argument("--denoise-arch", default="dncnn-nobn", choices=list(DENOISE_ARCHS))
    p.add_argument("--out", default=str(RESULTS / "restore.json"))
    p.add_argument("--note", default="")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (data_dir("sr-benchmarks") / "sr-benchmarks").is_dir():
        raise SystemExit(f"benchmark data not found under {data_dir()}; set AIGC_DATA_DIR")
    out = Path(args.out)
    result: dict = {"sr": {}, "bicubic": {}, "denoise": {}, "arch": {}, "runs": {}}
    run_info = {"budget_s": int(args.budget_s), "machine": machine(), "command": " ".join(["python"] + sys.argv),
                "note": args.note}
    with tempfile.TemporaryDirectory() as tmp:
        if "sr" in args.tasks:
            rows = []
            for scale in (2, 4):
                print(f"SR x{scale}", flush=True)
                pipe, info = train_budget("sr", args.sr_arch, {"scale": scale, **SR_FIELDS[args.sr_arch]},
                                          data="t91", budget_s=args.budget_s, out=Path(tmp) / f"sr{scale}",
                                          batch_size=16, lr=1e-3, patch=24, patches=8192)
                model, bic, crops = eval_sr(pipe, scale, ["set5", "set14"])
                for name in model:
                    result["sr"].setdefault(name, {})[f"x{scale}"] = model[name]
                    result["bicubic"].setdefault(name, {})[f"x{scale}"] = bic[name]
                result["arch"][f"sr_x{scale}"] = info
                rows.append((f"Set5 x{scale}", crops))
                print(f"  set5 {model['set5']} bicubic {bic['set5']}", flush=True)
            crop_sheet(rows, RESULTS / "restore_sr_crops.png")
            result["runs"]["sr"] = run_info
        if "denoise" in args.tasks:
            print("denoise sigma 25", flush=True)
            arch, fields = DENOISE_ARCHS[args.denoise_arch]
            pipe, info = train_budget("denoise", arch, {**fields, "sigma": 25.0}, data="train400",
                                      budget_s=args.budget_s, out=Path(tmp) / "dn", batch_size=16, lr=1e-3,
                                      patch=40, patches=16384)
            model, noisy, crops = eval_denoise(pipe, 25.0, "bsd68")
            result["denoise"] = {"bsd68": {"sigma25": model}, "noisy_input": {"bsd68": {"sigma25": noisy}}}
            result["arch"]["denoise_sigma25"] = {"name": args.denoise_arch, **info}
            crop_sheet([("BSD68 s25", crops)], RESULTS / "restore_denoise_crops.png")
            result["runs"]["denoise"] = run_info
            print(f"  bsd68 {model} (noisy {noisy})", flush=True)
    previous = json.loads(out.read_text()) if out.is_file() else {}  # read now: another run may have written
    for task in {"sr", "denoise"} - set(args.tasks):  # keep what this run did not redo
        result["runs"][task] = previous.get("runs", {}).get(task, {})
        for key in (("sr", "bicubic") if task == "sr" else ("denoise",)):
            result[key] = previous.get(key, {})
        result["arch"].update({k: v for k, v in previous.get("arch", {}).items() if k.startswith(task)})
    budgets = {r["budget_s"] for r in result["runs"].values() if r}
    runs = [r for r in result["runs"].values() if r]
    result.update({"budget_s": budgets.pop() if len(budgets) == 1 else sorted(budgets), "anchors": ANCHORS,
                   "machine": runs[0]["machine"] if runs else machine(),
                   "command": " ; ".join(r["command"] for r in runs),
                   "protocol": "PIL bicubic degradation (MATLAB imresize differs by about 0.05-0.1 dB); PSNR/SSIM "
                               "on the BT.601 Y channel with shave = scale (SR), on [0, 1] grey (denoising)"})
    atomic_write_json(out, result)
    print(json.dumps({k: result[k] for k in ("sr", "denoise")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
