"""The FID floor: FID(real test, real train) of a dataset in its domain features.

Generators are judged against this number: a perfect generator of MNIST would score about the
floor, not 0, because two finite samples of the same distribution differ. Also reports KID,
precision/recall, Inception Score and class coverage of the real train sample.

    python benchmarks/metrics_floor.py --data mnist [--n 10000] [--retrain]

Writes benchmarks/results/metrics_floor.json (machine, command, features sha256, timings).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

from aigc.core.atomic import atomic_write_json
from aigc.core.errors import BadInputError
from aigc.data.images import load_image_source
from aigc.metrics.evaluate import evaluate_images, subsample
from aigc.metrics.features import features_dir, load_feature_extractor
from aigc.metrics.train_features import train_features


def _machine() -> dict[str, object]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "cpu_count": __import__("os").cpu_count()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="mnist", choices=("mnist", "fashion-mnist"))
    p.add_argument("--n", type=int, default=10000, help="images per side (default 10000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--retrain", action="store_true", help="train the features even if cached")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "metrics_floor.json"))
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    trained = None
    if args.retrain or not (features_dir(args.data) / "model.safetensors").is_file():
        trained = train_features(args.data, progress=False)
    t_train = time.perf_counter() - t0
    extractor = load_feature_extractor(args.data)
    real = load_image_source(args.data, split="test")
    train = load_image_source(args.data, split="train")
    real_x, _ = subsample(real.images, args.n, args.seed)
    fake_x, _ = subsample(train.images, args.n, args.seed + 1)
    t1 = time.perf_counter()
    report = evaluate_images(real_x, fake_x, extractor, seed=args.seed)
    t_eval = time.perf_counter() - t1
    result = {
        "benchmark": "metrics_floor",
        "what": f"FID(real {args.data} test, real {args.data} train) in the {args.data} domain features",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": _machine(),
        "features_sha256": extractor.sha256,
        "features_trained_here": trained is not None,
        "seconds": {"train_features": round(t_train, 2), "evaluate": round(t_eval, 2)},
        "real": f"{args.data} test ({len(real_x)} of {len(real)})",
        "fake": f"{args.data} train ({len(fake_x)} of {len(train)}, seed {args.seed + 1})",
        **report,
    }
    atomic_write_json(args.out, result)
    print(f"FID floor ({args.data}, n={args.n}): {report['fid']:.4f}  features sha256 {extractor.sha256[:16]}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BadInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
