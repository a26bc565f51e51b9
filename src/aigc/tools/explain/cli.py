"""``aigc explain MODEL --input FILE --out explain.png``: a picture of why a model decided.

What is drawn depends on what the model can do (never on its task's name): pixel attributions for
a classifier or GAN discriminator, token attributions and attention for a language model, latent
maps and traversals for an encoder (VAE). Nothing heavy is imported until the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_explain", "run_explain"]


def add_explain(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    p = subparsers.add_parser(
        "explain", help="show why a model decided: attributions, attention, latent maps",
        description="Draw why MODEL decided what it did (Captum). A classifier or GAN discriminator with "
                    "--input IMAGE: saliency, Integrated Gradients and occlusion maps (for a discriminator, "
                    "red = pixels that made it say fake). A language model with --input TEXTFILE (or "
                    "--prompt): per-token attribution of the next token and attention maps. A VAE: PCA and "
                    "t-SNE maps of latents coloured by class (--data SOURCE) and latent traversals. "
                    "Example: aigc explain runs/classifier --input digit.png --out explain.png")
    p.add_argument("model", metavar="MODEL", help="a model directory")
    p.add_argument("--input", metavar="FILE", help="the image (classifier, discriminator) or text file (language model)")
    p.add_argument("--prompt", help="text to explain, instead of --input (language models)")
    p.add_argument("--out", default="explain.png", help="the PNG to write (default explain.png)")
    p.add_argument("--target", type=int, default=None, help="class to explain (default: the top-scoring one)")
    p.add_argument("--data", default=None,
                   help="labelled images for latent maps, e.g. digits or mnist (default: the model's training data)")
    p.add_argument("--n", type=int, default=1000, help="images encoded for latent maps (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="t-SNE seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or mps")
    p.set_defaults(func=run_explain)


def _text_input(args: argparse.Namespace) -> str:
    from pathlib import Path

    from aigc.core.errors import BadInputError

    if args.prompt is not None:
        return args.prompt
    if not args.input:
        raise BadInputError("a language model explains a text: give --prompt TEXT or --input FILE")
    try:
        return Path(args.input).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"--input {args.input}: not a readable UTF-8 text file ({exc})") from exc


def _latent_data(args: argparse.Namespace, objective, config: dict):
    from aigc.core.errors import BadInputError
    from aigc.data.images import load_image_source

    spec = args.data or (config.get("data") or {}).get("source") or "digits"
    cfg = objective.config
    data = load_image_source(spec, split="test" if spec in ("mnist", "fashion-mnist") else "train",
                             image_size=cfg.image_size, channels=cfg.channels)
    if data.labels is None:
        raise BadInputError(f"--data {spec}: latent maps are coloured by class; give a labelled source")
    return data.images[:args.n], data.labels[:args.n].numpy()


def run_explain(args: argparse.Namespace) -> int:
    import torch

    from aigc.core.device import select_device
    from aigc.core.pipeline import load_objective
    from aigc.tools.explain import explain as ex
    from aigc.train.objective import Classifies, Encodes

    device = select_device(args.device)
    objective, nets, config = load_objective(args.model, device)
    torch.set_grad_enabled(True)
    if isinstance(objective, Classifies) or "discriminator" in nets:
        from aigc.core.errors import BadInputError

        if not args.input:
            raise BadInputError("give --input IMAGE: the image whose score is explained")
        from aigc.tools.explain.attribution import find_scorer

        scorer = find_scorer(objective, nets)
        image = ex.read_image_input(args.input, scorer.channels, scorer.size)
        report = ex.explain_image(objective, nets, image, args.out, target=args.target)
    elif isinstance(objective, Encodes):
        images, labels = _latent_data(args, objective, config)
        report = ex.explain_latents(objective, nets, images, labels, args.out, seed=args.seed)
    else:
        import aigc

        pipe = aigc.load(args.model, device=str(device))
        if getattr(pipe, "tokenizer", None) is None:
            from aigc.core.errors import BadInputError

            raise BadInputError(f"{args.model}: nothing to explain yet for this kind of model (no classifier, "
                                "discriminator, encoder or tokenizer)")
        report = ex.explain_text(pipe.objective, pipe.nets["model"], pipe.tokenizer, _text_input(args), args.out)
    print(f"wrote {report['out']}")
    print(json.dumps({k: v for k, v in report.items() if k not in ("out", "scores", "tokens")}), file=sys.stderr)
    return 0
