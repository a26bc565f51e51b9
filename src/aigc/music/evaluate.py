"""Scoring music models by one protocol: framewise NLL (nats per step, JSB protocol), note accuracy,
and the MusPy-style descriptors of generated pieces beside the reference pieces'.

``aigc eval music --model DIR --data jsb:quarter`` and ``benchmarks/music_jsb.py`` call these.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from aigc.core.cli_args import add_device_arg, add_seed_arg
from aigc.core.errors import BadInputError
from aigc.data.music import roll_to_events
from aigc.metrics.music import FramewiseNLL, compare_sets, note_accuracy

__all__ = ["dataset_nll", "frame_accuracy", "evaluate_model", "add_eval_music"]


@torch.no_grad()
def dataset_nll(objective: Any, nets: Mapping[str, nn.Module], rolls: Sequence[np.ndarray],
                steps_per_bar: int, device: torch.device | str = "cpu") -> float:
    """Mean NLL per step (nats) over all steps of ``rolls``, each piece scored from its start.

    Frame model: the NADE's conditional Bernoulli sum. Event model: the token NLL of the piece's
    event encoding divided by its steps (an upper bound on the roll's NLL, see transformer.py).
    """
    if objective.kind == "roll":
        acc = FramewiseNLL()
        for r in rolls:
            x = torch.as_tensor(np.asarray(r, dtype=np.float32), device=device)[None]
            acc.update(objective.logits(nets, x), x)
        return acc.compute()
    if objective.kind == "events":
        vocab = objective.config.vocab
        total, steps = 0.0, 0
        for r in rolls:
            tokens = torch.tensor(roll_to_events(r, steps_per_bar, vocab), device=device)
            total += objective.sequence_nll(nets, tokens)
            steps += len(r)
        return total / max(steps, 1)
    raise BadInputError("the infill (Coconet) model has no framewise likelihood; evaluate a "
                        "frame or transformer model, or compare generated pieces")


@torch.no_grad()
def frame_accuracy(objective: Any, nets: Mapping[str, nn.Module], rolls: Sequence[np.ndarray],
                   device: torch.device | str = "cpu") -> float:
    """Note accuracy of the frame model's next-step prediction: each key is predicted on when its
    conditional probability (given the true earlier steps and lower keys) exceeds 1/2."""
    preds, targets = [], []
    for r in rolls:
        x = torch.as_tensor(np.asarray(r, dtype=np.float32), device=device)[None]
        preds.append((objective.logits(nets, x)[0] > 0).cpu().numpy())
        targets.append(np.asarray(r, dtype=bool))
    return note_accuracy(np.concatenate(preds), np.concatenate(targets))


def evaluate_model(model_dir: str, data: str = "jsb:quarter", *, split: str = "test", n_generate: int = 0,
                   bars: int = 8, seed: int = 0, device: str = "cpu", progress: bool = False) -> dict[str, Any]:
    """Scores of a music model on the pieces of ``data``/``split`` and, with ``n_generate``, the
    descriptors of that many generated pieces against those pieces."""
    import aigc
    from aigc.data.music import load_music

    pipe = aigc.load(model_dir, device=device)
    music = load_music(data, steps_per_beat=pipe.steps_per_beat)
    rolls = {"train": music.train, "valid": music.valid, "test": music.test}.get(split)
    if rolls is None:
        raise BadInputError(f"--split {split!r}: choose train, valid or test")
    if music.steps_per_beat != pipe.steps_per_beat:
        raise BadInputError(f"--data {data} has {music.steps_per_beat} steps per beat but the model "
                            f"was trained with {pipe.steps_per_beat}; evaluate on matching data")
    out: dict[str, Any] = {"model": str(model_dir), "data": data, "split": split, "pieces": len(rolls),
                           "architecture": pipe.architecture}
    if pipe.objective.kind != "voices":
        out["nll"] = dataset_nll(pipe.objective, pipe.nets, rolls, pipe.steps_per_bar, pipe.device)
    if pipe.objective.kind == "roll":
        out["note_accuracy"] = frame_accuracy(pipe.objective, pipe.nets, rolls, pipe.device)
    if n_generate:
        gen = pipe.generate_many(n_generate, bars=bars, seed=seed, progress=progress)
        out["generated"] = n_generate
        out["descriptors"] = compare_sets(gen, rolls, pipe.steps_per_beat)
    return out


def add_eval_music(subparsers: argparse._SubParsersAction) -> None:
    """``aigc eval music``."""
    p = subparsers.add_parser(
        "music", help="framewise NLL, note accuracy and MusPy-style descriptors of a music model",
        description="Score a music model on held-out pieces: framewise NLL in nats per step (the "
                    "JSB protocol: summed over 88 keys, averaged over steps), note accuracy, and with "
                    "--generate N the MusPy-style descriptors of N generated pieces beside the test "
                    "set's. Example: aigc eval music --model runs/jsb-frame --data jsb:quarter --generate 20")
    p.add_argument("--model", required=True, help="music model directory written by `aigc train music`")
    p.add_argument("--data", default="jsb:quarter", help="jsb:quarter|jsb:8th|jsb:16th|folder:PATH")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--generate", type=int, default=0, metavar="N", help="also generate N pieces and compare")
    p.add_argument("--bars", type=int, default=8, help="length of each generated piece in bars")
    add_seed_arg(p)
    add_device_arg(p)
    p.add_argument("--json", metavar="OUT", default=None, help="also write the report as JSON to OUT")
    p.set_defaults(func=_run_eval)


def _run_eval(args: argparse.Namespace) -> int:
    from aigc.metrics.cli import emit_report

    if args.generate < 0 or args.bars < 1:
        raise BadInputError("--generate must be >= 0 and --bars >= 1")
    result = evaluate_model(args.model, args.data, split=args.split, n_generate=args.generate,
                            bars=args.bars, seed=args.seed, device=args.device, progress=True)
    # NaN (a descriptor of pieces without notes) is not JSON: written as null
    emit_report(json.loads(json.dumps(result).replace("NaN", "null")), args.json)
    return 0
