"""``aigc stylize``: Gatys optimisation, or a trained feed-forward style model."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from aigc.core.artifacts import save_png
from aigc.core.cli_args import progress_enabled
from aigc.core.device import select_device
from aigc.core.errors import BadInputError
from aigc.core.seed import make_generator
from aigc.data.color import tensor_to_array

__all__ = ["run_stylize"]


def _method_id(encoder_label: str) -> str:
    """Gatys has no model directory: its "model" is the method and the loss encoder, so the id
    (and the watermark's payload) is a hash of those, in the model id's format."""
    return hashlib.sha256(f"gatys:{encoder_label}".encode()).hexdigest()[:16]


def run_stylize(args: argparse.Namespace) -> int:
    from aigc.restore.pipeline import _png, read_input

    out = _png(args.output)
    if args.model:
        import aigc

        pipe = aigc.load(args.model, device=args.device)
        path = pipe.process_file(args.input, out, tile=0, watermark=args.watermark)
        print(f"wrote {path}")
        return 0
    if not args.style:
        raise BadInputError("stylize needs --style IMG (or --model DIR of a trained style model)")
    from aigc.restore.features import load_encoder
    from aigc.restore.style import fit_size, gatys

    device = select_device(args.device)
    encoder = load_encoder(args.vgg_weights, args.seed).to(device)
    content = fit_size(read_input(args.input, "RGB"), args.size).to(device)
    style = fit_size(read_input(args.style, "RGB"), args.size).to(device)
    image = gatys(content, style, encoder, steps=args.steps, style_weight=args.style_weight,
                  generator=make_generator(args.seed, device), progress=progress_enabled(args))
    meta = {"model_id": _method_id(encoder.label), "method": "gatys", "encoder": encoder.label,
            "style": Path(args.style).name, "source": Path(args.input).name, "steps": args.steps,
            "size": args.size, "style_weight": args.style_weight, "seed": args.seed, "watermark": args.watermark}
    save_png(out, tensor_to_array(image.cpu()), meta)
    print(f"wrote {out} (encoder: {encoder.label})")
    return 0
