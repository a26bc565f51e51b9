"""``aigc augment --generator MODEL --n 5000 --out DIR``: labelled synthetic samples from any
class-conditional image generator, written as an image folder (one sub-folder per class) that
``--data folder:DIR`` reads with the generator's labels.

Works through ``aigc.load`` only: a Pipeline with ``num_classes`` > 0, ``class_names`` and
``generate(n, seed, labels=...)``. Classes get equal shares (the first ``n % classes`` one more).
Sub-folders are the class names when sorting them keeps the generator's order (``folder:`` labels
sub-folders in sorted order), else ``00-name``, ``01-name``, ... Every PNG carries its recipe
(model id, seed, label). The folder appears whole or not at all (written beside, then renamed).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["add_augment", "class_folders", "run_augment", "write_synthetic"]


def add_augment(subparsers: argparse._SubParsersAction, argv: list[str] | None = None) -> None:
    from aigc.core.cli_args import HelpFormatter, add_inference_args

    p = subparsers.add_parser(
        "augment", help="write labelled synthetic samples from a class-conditional generator as an image folder",
        formatter_class=HelpFormatter,
        description="Sample N labelled images from a class-conditional image generator (cgan, or ddpm trained "
                    "with --cond), equal numbers per class, into DIR/<class>/*.png, a folder that "
                    "`--data folder:DIR` reads with the same labels. "
                    "Example: aigc augment --generator runs/ddpm-mnist --n 5000 --steps 50 --out synth/")
    p.add_argument("--generator", required=True, metavar="MODEL", help="class-conditional image model directory")
    p.add_argument("--n", type=int, required=True, help="number of images, e.g. 5000")
    p.add_argument("--batch-size", type=int, default=256, help="images generated per batch")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (diffusion models)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (diffusion)")
    p.add_argument("--eta", type=float, default=None,
                   help="step noise of diffusion sampling, 0 = deterministic DDIM, 1 = DDPM (default: the model's)")
    add_inference_args(p, out=None, out_help="new folder to write (must not exist)")
    p.set_defaults(func=run_augment)


def class_folders(names: list[str]) -> list[str]:
    """Folder name per label: the class names when safe, unique and already sorted, else indexed."""
    safe = [re.sub(r"[^A-Za-z0-9_.-]+", "_", n).strip("._") or "class" for n in names]
    if len(set(safe)) == len(safe) and safe == sorted(safe) and safe == list(names):
        return safe
    width = len(str(len(names) - 1))
    return [f"{i:0{width}d}-{s}" for i, s in enumerate(safe)]


def _labels(n: int, classes: int) -> list[int]:
    return [i % classes for i in range(n)]  # round robin: equal shares, batches see every class


def write_synthetic(pipe: Any, out: str | os.PathLike, n: int, *, seed: int = 0, batch_size: int = 256,
                    steps: int | None = None, guidance: float | None = None, eta: float | None = None,
                    watermark: bool | None = None,
                    progress: bool = False) -> dict[str, Any]:
    """Write ``n`` generated images into ``out/<class>/``; returns ``{"n", "per_class", "folders"}``."""
    from tqdm import tqdm

    from aigc.core.artifacts import make_grid, save_png
    from aigc.core.errors import BadInputError

    out = Path(out)
    classes = int(getattr(pipe, "num_classes", 0) or 0)
    if classes < 1:
        raise BadInputError(f"--generator {pipe.source}: the model is not class-conditional; train one with "
                            "--arch cgan or --arch ddpm --cond")
    if not 1 <= n <= 1_000_000:
        raise BadInputError(f"--n must be between 1 and 1000000, got {n}")
    if batch_size < 1:
        raise BadInputError(f"--batch-size must be >= 1, got {batch_size}")
    if out.exists():
        raise BadInputError(f"--out {out} already exists; choose a new folder")
    folders, labels = class_folders(list(pipe.class_names)), _labels(n, classes)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for f in folders:
            (tmp / f).mkdir()
        bar = tqdm(total=n, desc="augment", unit="img", disable=not progress)
        for b, start in enumerate(range(0, n, batch_size)):
            chunk = labels[start:start + batch_size]
            images = pipe.generate(len(chunk), seed=seed + b, labels=chunk, steps=steps, guidance=guidance,
                                   eta=eta, batch_size=batch_size)
            recipe = pipe.recipe(seed=seed + b, n=len(chunk), steps=steps, guidance=guidance, eta=eta)
            for i, (img, label) in enumerate(zip(images, chunk)):
                save_png(tmp / folders[label] / f"{start + i:06d}.png", make_grid(img[None], padding=0),
                         {**recipe, "index": i, "label": label, "class": pipe.class_names[label]},
                         watermark=watermark)
            bar.update(len(chunk))
        bar.close()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return {"n": n, "per_class": {f: labels.count(i) for i, f in enumerate(folders)}, "folders": folders}


def run_augment(args: argparse.Namespace) -> int:
    import aigc
    from aigc.core.cli_args import progress_enabled

    pipe = aigc.load(args.generator, device=args.device)
    report = write_synthetic(pipe, args.out, args.n, seed=args.seed, batch_size=args.batch_size, steps=args.steps,
                             guidance=args.guidance, eta=args.eta, watermark=args.watermark,
                             progress=progress_enabled(args))
    counts = sorted(set(report["per_class"].values()))
    print(f"wrote {report['n']} images in {len(report['folders'])} class folders "
          f"({'-'.join(map(str, counts))} each) to {args.out}; train on them with --data folder:{args.out}")
    return 0
