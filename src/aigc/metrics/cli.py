"""``aigc eval {images,restore,text}`` and ``aigc metrics train-features``.

``add_eval`` / ``add_metrics`` each add one parser to the given sub-parsers; handlers return an
exit code and raise :class:`BadInputError` for bad input (printed as one line by ``aigc.cli``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from aigc.core.errors import BadInputError
from aigc.core.registry import EVALUATORS, resolve

__all__ = ["add_eval", "add_metrics"]

IMAGE_HELP = """metrics:
  fid        Fréchet distance between Gaussians fitted to real and fake features (lower is better)
  kid        unbiased squared MMD, cubic kernel, mean ± std over subsets (≈0 for the same distribution)
  precision  share of fakes inside the real k-NN feature manifold: quality (Kynkäänniemi 2019)
  recall     share of reals inside the fake k-NN feature manifold: coverage/diversity
  inception_score  exp(E KL(p(y|x) || p(y))) from the features' classifier: 1 (collapsed) .. K
  class_coverage   class histogram of fakes, modes covered, KL to uniform (mode collapse)
features: mnist | fashion-mnist | digits (train with `aigc metrics train-features`), dir:PATH,
  inception:PATH.safetensors (FID InceptionV3 weights). Every report names the features and their sha256."""

RESTORE_HELP = """metrics:
  psnr_y   PSNR on the BT.601 Y channel, border shaved by --scale (the SR literature's convention)
  ssim_y   SSIM on the same Y channel (Gaussian window, sigma 1.5; equals scikit-image)
  psnr_rgb PSNR over the RGB channels (same shave)
  ssim_rgb mean per-channel SSIM over RGB (same shave)
Files are paired by relative path without extension."""

TEXT_HELP = """metrics:
  bleu       sacrebleu corpus BLEU of the hypotheses against the references (0-100)
  self_bleu  mean BLEU of each hypothesis against the others: higher = less diverse
  distinct_n unique n-grams / all n-grams over the hypotheses: higher = more diverse
  perplexity exp(mean negative log-likelihood per token) of --model on --data: lower = better"""


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _emit(report: dict[str, Any], out: str | None) -> None:
    from aigc.core.atomic import atomic_write_json
    from aigc.metrics.evaluate import format_report

    print(format_report(report))
    if out:
        atomic_write_json(out, report)
        print(f"report written to {out}", file=sys.stderr)


def _load_fake(spec: str, split: str, n: int, seed: int, device: str) -> tuple[torch.Tensor, str]:
    """Images from a model directory (generated with ``seed``), a folder, or an image source spec."""
    path = Path(spec)
    if (path / "config.json").is_file():
        import aigc
        from aigc.core.modeldir import model_id

        pipe = aigc.load(str(path), device=device)
        return pipe.generate(n, seed=seed), f"model {path} (id {model_id(path)}, seed {seed})"
    from aigc.data.images import load_image_source

    source = spec if spec.startswith("folder:") or not path.is_dir() else f"folder:{spec}"
    split = "all" if source.startswith("folder:") else split
    return load_image_source(source, split=split).images, f"{source} ({split})"


def _run_images(args: argparse.Namespace) -> int:
    from aigc.data.images import load_image_source
    from aigc.metrics.evaluate import evaluate_images, subsample
    from aigc.metrics.features import DOMAIN_FEATURES, load_feature_extractor

    features = args.features or (args.real if args.real in DOMAIN_FEATURES else None)
    if features is None:
        raise BadInputError(f"--features is needed for real images {args.real!r}: one of "
                            f"{list(DOMAIN_FEATURES)}, dir:PATH or inception:PATH")
    if args.n < 2:
        raise BadInputError(f"--n must be at least 2, got {args.n}")
    extractor = load_feature_extractor(features, device=args.device)
    real_spec = args.real if args.real.startswith("folder:") or not Path(args.real).is_dir() else f"folder:{args.real}"
    real_split = "all" if real_spec.startswith("folder:") else args.real_split
    real, _ = subsample(load_image_source(real_spec, split=real_split).images, args.n, args.seed)
    fake, fake_desc = _load_fake(args.fake, args.fake_split, args.n, args.seed, args.device)
    fake, _ = subsample(fake, args.n, args.seed + 1)
    report = evaluate_images(real, fake, extractor, kid_subsets=args.kid_subsets,
                             kid_subset_size=args.kid_subset_size, seed=args.seed)
    report = {"real": f"{real_spec} ({real_split})", "fake": fake_desc, **report}
    _emit(report, args.json)
    return 0


def _run_restore(args: argparse.Namespace) -> int:
    from aigc.metrics.evaluate import evaluate_restore

    report = evaluate_restore(args.gt, args.pred, args.scale)
    _emit({"gt": args.gt, "pred": args.pred, **report}, args.json)
    return 0


def _read_lines(path: str) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadInputError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return text.splitlines()


def _run_text(args: argparse.Namespace) -> int:
    from aigc.metrics.evaluate import evaluate_text

    if not args.hyps and not args.model:
        raise BadInputError("eval text: give --hyps FILE (BLEU, distinct-n) and/or --model DIR --data FILE (perplexity)")
    report: dict = {}
    if args.hyps:
        hyps = _read_lines(args.hyps)
        refs = [_read_lines(r) for r in args.refs] if args.refs else None
        report.update({"hyps": args.hyps, "refs": args.refs,
                       **evaluate_text(hyps, refs, orders=args.orders, self_bleu_max=args.self_bleu_max,
                                       seed=args.seed)})
    if args.model:
        if not args.data:
            raise BadInputError("eval text: --model needs --data FILE (held-out UTF-8 text)")
        # the text task computes it (metrics never imports a task): looked up in the registry
        report["perplexity"] = resolve(EVALUATORS["text-perplexity"])(args.model, args.data, device=args.device)
    _emit(report, args.json)
    return 0


def _add_images(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("images", help="FID, KID, precision/recall, IS, class coverage of generated images",
                       description="Compare generated images with real ones in a feature space.",
                       epilog=IMAGE_HELP, formatter_class=_formatter)
    p.add_argument("--real", required=True, help="real images: mnist, fashion-mnist, digits, faces, folder:PATH or a folder")
    p.add_argument("--real-split", default="test", choices=("train", "test", "all"), help="split of --real (default test)")
    p.add_argument("--fake", required=True, help="a model directory (images are generated) or a folder of images")
    p.add_argument("--fake-split", default="train", choices=("train", "test", "all"),
                   help="split when --fake is a built-in source (default train: real-vs-real floor)")
    p.add_argument("--features", help="feature extractor (default: the --real name when it has domain features)")
    p.add_argument("--n", type=int, default=10000, help="images per side (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed for generation, subsets and KID (default 0)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    p.add_argument("--kid-subset-size", type=int, default=1000, help="KID subset size (default 1000)")
    p.add_argument("--device", default="cpu", help="device for features and generation (default cpu)")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    p.set_defaults(func=_run_images)


def _add_restore(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("restore", help="PSNR and SSIM (Y channel and RGB) of restored images",
                       description="Score restored images against ground truth.",
                       epilog=RESTORE_HELP, formatter_class=_formatter)
    p.add_argument("--gt", required=True, help="folder of ground-truth images")
    p.add_argument("--pred", required=True, help="folder of restored images (same file names)")
    p.add_argument("--scale", type=int, default=1, help="super-resolution scale: pixels shaved off each border (default 1: none)")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    p.set_defaults(func=_run_restore)


def _add_text(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("text", help="BLEU, self-BLEU and distinct-n of generated text",
                       description="Score generated text (one text per line).",
                       epilog=TEXT_HELP, formatter_class=_formatter)
    p.add_argument("--hyps", help="generated texts, one per line (UTF-8)")
    p.add_argument("--model", help="a text model directory: report its perplexity on --data")
    p.add_argument("--data", help="held-out UTF-8 text file for --model's perplexity")
    p.add_argument("--device", default="auto", help="device for --model (default auto)")
    p.add_argument("--refs", nargs="+", help="reference file(s), line-aligned with --hyps (for BLEU)")
    p.add_argument("--orders", type=int, nargs="+", default=[1, 2, 3], help="n of distinct-n (default 1 2 3)")
    p.add_argument("--self-bleu-max", type=int, default=500, help="texts sampled for self-BLEU (default 500)")
    p.add_argument("--seed", type=int, default=0, help="seed for the self-BLEU sample (default 0)")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    p.set_defaults(func=_run_text)


def add_eval(subparsers: argparse._SubParsersAction) -> None:
    """``aigc eval {images,restore,text}``."""
    p = subparsers.add_parser("eval", help="evaluate generated images, restorations or text",
                              description="Evaluate outputs with trusted metrics; `--json OUT` saves a report.")
    sub = p.add_subparsers(dest="eval_kind", metavar="KIND", required=True)
    _add_images(sub)
    _add_restore(sub)
    _add_text(sub)


def _run_train_features(args: argparse.Namespace) -> int:
    from aigc.metrics.train_features import train_features

    meta = train_features(args.data, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          device=args.device, out=args.out, progress=not args.quiet)
    print(json.dumps({k: meta[k] for k in ("name", "test_accuracy", "sha256")}, indent=2))
    return 0


def add_metrics(subparsers: argparse._SubParsersAction) -> None:
    """``aigc metrics train-features``."""
    from aigc.metrics.features import DOMAIN_FEATURES
    from aigc.metrics.train_features import TRAIN_DEFAULTS as D

    p = subparsers.add_parser("metrics", help="metric tooling: train domain feature extractors",
                              description="Metric tooling.")
    sub = p.add_subparsers(dest="metrics_command", metavar="COMMAND", required=True)
    t = sub.add_parser("train-features", help="train the domain feature CNN used by `aigc eval images`",
                       description="Train the small CNN whose features score 28x28 images (fixed seed, "
                                   "cached under the aigc cache dir as safetensors + json with its sha256).")
    t.add_argument("--data", required=True, choices=DOMAIN_FEATURES, help="labelled training data")
    t.add_argument("--steps", type=int, default=D["steps"], help=f"optimizer steps (default {D['steps']})")
    t.add_argument("--batch-size", type=int, default=D["batch_size"], help=f"batch size (default {D['batch_size']})")
    t.add_argument("--lr", type=float, default=D["lr"], help=f"Adam learning rate (default {D['lr']})")
    t.add_argument("--seed", type=int, default=D["seed"], help=f"seed (default {D['seed']})")
    t.add_argument("--device", default="cpu", help="training device (default cpu: bitwise reproducible)")
    t.add_argument("--out", help="output folder (default: <cache>/features/<data>)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_run_train_features)
