"""Generative augmentation: does a small CNN trained on 600 labelled MNIST digits (60 per class)
score higher on the 10,000 test digits when 6,000 labelled samples of a class-conditional
generator are added? Averaged over 3 seeds (CNN init and order; the same samples for all seeds).

The generator is trained here on the same 600 labelled images only (class-conditional DDPM with
classifier-free guidance, at 32 px), so no label or image beyond the 600 leaks in; or pass
``--generator DIR`` for one you trained (say how in the note). Samples go through ``aigc augment``
(``write_synthetic``) and are read back with ``folder:DIR`` — the path a user takes.

Both arms get the same number of CNN updates (``--cnn-steps``, enough for the 600-image baseline to
converge); in the augmented arm half of every batch (``--real-share``) is real, so adding 6,000
samples does not dilute how often the 600 real images are seen.

    OMP_NUM_THREADS=1 python benchmarks/augment.py                      # the full experiment
    OMP_NUM_THREADS=1 python benchmarks/augment.py --tiny --out /tmp/a.json   # a quick check
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command, machine  # noqa: E402

import aigc  # noqa: E402
from aigc.cli import main  # noqa: E402
from aigc.data.images import load_image_source  # noqa: E402
from aigc.tools.augment_cli import write_synthetic  # noqa: E402

# eta 0 (deterministic DDIM) is what augment.json was measured with; the models' default is now 1
FULL = dict(per_class=60, synthetic=6000, gen_steps=2500, sample_steps=10, guidance=2.0, eta=0.0, cnn_steps=2000,
            test=10_000,
            gen_args=["--image-size", "32", "--features", "32", "--batch-size", "64", "--lr", "1e-3", "--ema", "0.995"])
TINY = dict(per_class=6, synthetic=60, gen_steps=3, sample_steps=2, guidance=1.0, eta=1.0, cnn_steps=20, test=300,
            gen_args=["--image-size", "8", "--features", "8", "--batch-size", "16"])


class SmallCNN(nn.Module):
    """Two conv blocks and a linear head on (B, 1, 28, 28): ~100k parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.drop, self.fc = nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(self.drop(x.flatten(1)))


def labelled_subset(per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_image_source("mnist", split="train")
    g = torch.Generator().manual_seed(seed)
    idx = torch.cat([torch.nonzero(data.labels == c).flatten()[torch.randperm(int((data.labels == c).sum()),
                     generator=g)[:per_class]] for c in range(10)])
    return data.images[idx], data.labels[idx]


def write_folder(images: torch.Tensor, labels: torch.Tensor, root: Path) -> None:
    from PIL import Image

    for i, (img, y) in enumerate(zip(images, labels)):
        (root / str(int(y))).mkdir(parents=True, exist_ok=True)
        Image.fromarray((img[0].numpy() * 255).round().astype(np.uint8)).save(root / str(int(y)) / f"{i}.png")


def train_cnn(x: torch.Tensor, y: torch.Tensor, steps: int, seed: int,
              extra: tuple[torch.Tensor, torch.Tensor] | None = None, real_share: float = 0.5) -> nn.Module:
    """``steps`` Adam updates on batches of 64; with ``extra`` (synthetic images, labels), a share
    ``real_share`` of every batch comes from (x, y) and the rest from ``extra``, so the real images
    are still seen often however many synthetic ones there are."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the CNN's init (a script, not library code)
    net = SmallCNN()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    n_real = 64 if extra is None else round(64 * real_share)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (n_real,), generator=g)
        xb, yb = x[idx], y[idx]
        if extra is not None:
            jdx = torch.randint(0, len(extra[0]), (64 - n_real,), generator=g)
            xb, yb = torch.cat([xb, extra[0][jdx]]), torch.cat([yb, extra[1][jdx]])
        loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(torch.cat([net(b).argmax(1) for b in x.split(1000)]).eq(y).float().mean())


def synthetic(root: Path, cfg: dict, generator: str | None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    info: dict = {}
    if generator is None and (root / "ddpm" / "model.safetensors").exists():
        generator = str(root / "ddpm")  # --work kept it from an earlier run
        info = {"generator": f"ddpm --cond trained on the {cfg['per_class'] * 10} labelled images (kept in --work)"}
    elif generator is None:
        generator = str(root / "ddpm")
        start = time.perf_counter()
        assert main(["train", "image-gen", "--arch", "ddpm", "--cond", "--data", f"folder:{root / 'real'}",
                     "--split", "all",
                     *cfg["gen_args"], "--steps", str(cfg["gen_steps"]), "--no-progress", "--out", generator]) == 0
        info = {"generator": f"ddpm --cond trained here on the {cfg['per_class'] * 10} labelled images",
                "gen_steps": cfg["gen_steps"], "gen_args": cfg["gen_args"],
                "gen_train_s": time.perf_counter() - start}
    from aigc.core.modeldir import weights_metadata

    # the steps the generator really trained (a Ctrl-C stops training early and sampling goes on)
    step = weights_metadata(Path(generator) / "model.safetensors").get("step")
    info["gen_steps_trained"] = int(step) if step is not None else None
    pipe = aigc.load(generator)
    if not (root / "synth").exists():
        start = time.perf_counter()
        report = write_synthetic(pipe, root / "synth", cfg["synthetic"], seed=1, steps=cfg["sample_steps"],
                                 guidance=cfg["guidance"], eta=cfg["eta"], watermark=False)
        info.update(sample_s=time.perf_counter() - start, folders=report["folders"])
    data = load_image_source(f"folder:{root / 'synth'}", split="all", image_size=28, channels=1)
    # folder label i is the generator's class i, whose name is the real folder's digit
    names = [pipe.class_names[int(i)] for i in data.labels]
    return data.images, torch.tensor([int(n) for n in names]), info


def main_(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default=None, help="a class-conditional model directory to use instead")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tiny", action="store_true", help="tiny sizes: checks the script, numbers mean nothing")
    ap.add_argument("--gen-steps", type=int, default=None,
                    help=f"training steps of the generator (default {FULL['gen_steps']}; ~1 CPU-s each on one core)")
    ap.add_argument("--sample-steps", type=int, default=None,
                    help=f"DDIM steps per synthetic sample (default {FULL['sample_steps']})")
    ap.add_argument("--cnn-steps", type=int, default=None,
                    help=f"updates of every CNN, with and without synthetic data (default {FULL['cnn_steps']})")
    ap.add_argument("--real-share", type=float, default=0.5,
                    help="share of each augmented batch drawn from the 600 real images (default 0.5)")
    ap.add_argument("--guidance", type=float, default=None, help=f"sampling guidance (default {FULL['guidance']})")
    ap.add_argument("--eta", type=float, default=None,
                    help=f"sampling step noise, 0 = deterministic DDIM, 1 = DDPM (default {FULL['eta']})")
    ap.add_argument("--note", default="", help="a sentence stored with the figures")
    ap.add_argument("--gen-augment", default=None, metavar="SPEC",
                    help="train the generator with this --augment spec, e.g. affine:10:0.06:0.08 (limited-data "
                         "generative training augments its data, as ADA does for GANs; default none)")
    ap.add_argument("--work", default=None,
                    help="keep the real folder, generator and samples here, and reuse those already there "
                         "(default: a temporary folder)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "augment.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg, start, cpu_start = dict(TINY if args.tiny else FULL), time.perf_counter(), time.process_time()
    if not 0 < args.real_share < 1:
        ap.error(f"--real-share must be in (0, 1), got {args.real_share}")
    for key in ("gen_steps", "sample_steps", "cnn_steps", "guidance", "eta"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if args.gen_augment:
        cfg["gen_args"] = [*cfg["gen_args"], "--augment", args.gen_augment]
    xr, yr = labelled_subset(cfg["per_class"])
    test = load_image_source("mnist", split="test")
    xt, yt = test.images[:cfg["test"]], test.labels[:cfg["test"]]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.work) if args.work else Path(tmp)
        if not (root / "real").exists():
            write_folder(xr, yr, root / "real")
        xs, ys, info = synthetic(root, cfg, args.generator)
    seeds = list(range(args.seeds))
    steps = cfg["cnn_steps"]  # the same number of updates with and without synthetic data
    base = [accuracy(train_cnn(xr, yr, steps, s), xt, yt) for s in seeds]
    both = [accuracy(train_cnn(xr, yr, steps, s, extra=(xs, ys), real_share=args.real_share), xt, yt) for s in seeds]
    synth_only = accuracy(train_cnn(xs, ys, steps, 0), xt, yt)  # how class-faithful the samples are
    result = {"accuracy_lift_points": 100 * (np.mean(both) - np.mean(base)),
              "baseline_accuracy": float(np.mean(base)), "augmented_accuracy": float(np.mean(both)),
              "seeds": seeds, "baseline_per_seed": base, "augmented_per_seed": both,
              "synthetic_only_accuracy": synth_only, "labelled": len(xr), "synthetic": len(xs), "test": len(xt),
              "cnn_steps": steps, "real_share": args.real_share,
              **info, "sample_steps": cfg["sample_steps"], "guidance": cfg["guidance"], "eta": cfg["eta"],
              "tiny": args.tiny, "note": args.note,
              "seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start,
              "machine": machine(), "command": command()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main_())
