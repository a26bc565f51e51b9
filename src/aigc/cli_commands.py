"""The core commands of ``aigc``: train, generate, info, replay, eval, metrics, and commands whose
options depend on a model directory's task. Each ``add_*`` adds one parser; imported only when its
command runs (see :mod:`aigc.cli`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from aigc.core.errors import BadInputError
from aigc.core.registry import TASKS, resolve, task, tasks

__all__ = ["add_train", "add_generate", "add_info", "add_replay", "add_eval", "add_metrics",
           "add_model_command", "run_model_command"]


def add_train(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    from aigc.cli import _selected
    from aigc.core.cli_args import HelpFormatter

    p = subparsers.add_parser("train", help="train a model into a model directory",
                              description="Train a model. Pick a task, e.g. `aigc train image-gen --help`. "
                                          "Continue a run with `aigc train TASK --out DIR --resume`.")
    sub = p.add_subparsers(dest="task", metavar="TASK", required=True)
    selected, rest = _selected(argv)
    for t in tasks():
        if t.name != selected:
            sub.add_parser(t.name, help=t.summary)
            continue
        from aigc.core.cli_args import explicit_dests
        from aigc.train.cli_args import add_train_args, run_train_command

        tp = sub.add_parser(t.name, help=t.summary, formatter_class=HelpFormatter,
                            description=f"Train {t.summary}." + (f" Example: {t.train_example}" if t.train_example else ""))
        resolve(t.train_parser)(tp)
        add_train_args(tp)
        tp.set_defaults(func=lambda args, t=t, tp=tp: run_train_command(t, args, explicit_dests(tp, rest)))


def add_model_command(subparsers: argparse._SubParsersAction, name: str, help_text: str,
                      registry: dict[str, str]) -> None:
    """A command whose options depend on the task of the model directory it is given."""
    p = subparsers.add_parser(
        name, help=help_text, add_help=False,
        description=f"{help_text[0].upper()}{help_text[1:]}. Options depend on the model's task; "
                    f"`aigc {name} DIR --help` lists them.")
    p.add_argument("-h", "--help", action="store_true", help="show this help (with DIR: the task's options)")
    p.add_argument("model_dir", nargs="?", help="model directory written by `aigc train`")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="the task's options")
    p.set_defaults(func=lambda args: run_model_command(args, p, name, registry))


def run_model_command(args: argparse.Namespace, parser: argparse.ArgumentParser, name: str,
                      registry: dict[str, str]) -> int:
    if args.model_dir is None:
        parser.print_help()
        print(f"\ntasks with `{name}`: {', '.join(sorted(registry)) or 'none yet'}")
        return 0 if args.help else 2
    from aigc.core.modeldir import read_config  # torch: not for the bare `--help`

    task_name = read_config(args.model_dir)["task"]
    if task_name not in registry:
        raise BadInputError(f"{args.model_dir}: a {task_name!r} model has no `{name}` command; "
                            f"`{name}` works with: {', '.join(sorted(registry)) or 'none yet'}")
    rest, onnx = _take_option(list(args.rest), "--onnx") if name == "generate" else (args.rest, None)
    sub_parser = resolve(registry[task_name])(args.model_dir)
    sub = sub_parser.parse_args(["--help", *rest] if args.help else rest)
    from aigc.core.recipe import pin_defaults

    pin_defaults(sub_parser, rest, sub)  # what the file records replays after a default changes
    if onnx is None:
        return sub.func(sub)
    from aigc.core.pipeline import load_pipeline, providing

    def provider(path: Any, device: Any) -> Any:  # the task's own code loads; its networks run in onnxruntime
        with providing(None):
            pipe = load_pipeline(path, device=device)
        return resolve("aigc.tools.export.runtime:use_onnx")(pipe, onnx)

    with providing(provider):
        return sub.func(sub)


def _take_option(rest: list[str], flag: str) -> tuple[list[str], str | None]:
    """``rest`` without ``flag VALUE`` (or ``flag=VALUE``), and VALUE (None when absent)."""
    for i, word in enumerate(rest):
        if word == flag:
            if i + 1 >= len(rest):
                raise BadInputError(f"{flag} needs a file, e.g. {flag} model.onnx (from `aigc export`)")
            return rest[:i] + rest[i + 2:], rest[i + 1]
        if word.startswith(flag + "="):
            return rest[:i] + rest[i + 1:], word.split("=", 1)[1]
    return rest, None


def add_generate(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    registry = {t.name: t.generate_parser for t in tasks() if t.generate_parser}
    add_model_command(subparsers, "generate", "generate outputs from a trained model directory", registry)
    p = subparsers.choices["generate"]
    p.epilog = ("--onnx FILE (after DIR): run the networks exported by `aigc export DIR --format onnx --out FILE` "
                "in onnxruntime (CPU), e.g. aigc generate runs/ddpm --onnx unet.onnx --n 16 --out grid.png")


def add_info(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    p = subparsers.add_parser("info", help="describe a model directory, or print the recipe of a generated file",
                              description="For a model directory: its task, architecture, settings, model "
                                          "id, size and training step. For a file aigc wrote (PNG, WAV, MIDI, "
                                          "GIF, MP4, text): the recipe that made it (model id, seed, "
                                          "parameters, aigc version). Example: aigc info grid.png")
    p.add_argument("path", help="a model directory or a generated file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> int:
    from pathlib import Path

    path = Path(args.path)
    if path.is_dir():
        from aigc.core.pipeline import describe

        info = describe(path)
    else:
        from aigc.core.artifacts import read_recipe

        info = {"file": str(path), **read_recipe(path)}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        print(f"{key:>14}: {value}")
    return 0


def add_replay(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    p = subparsers.add_parser("replay", help="regenerate a file from its recipe and check it is byte-identical",
                              description="Read the recipe stored in FILE (by `aigc generate` and the other "
                                          "commands that write outputs), run the same command with the same "
                                          "model, seed and parameters into a temporary file, and compare the "
                                          "bytes. Exit 0 when identical, 1 when they differ. Example: "
                                          "aigc replay grid.png --model runs/dcgan")
    p.add_argument("file", help="a file written by aigc")
    p.add_argument("--model", required=True, metavar="DIR", help="the model directory that made it")
    p.add_argument("--keep", metavar="PATH", help="also keep the regenerated file here")
    p.set_defaults(func=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    from aigc.core.replay import replay

    result = replay(args.file, args.model, keep=args.keep)
    print(result["message"])
    return 0 if result["identical"] else 1


def add_eval(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    """``aigc eval KIND``: the metrics' own kinds plus every task's evaluators."""
    from aigc.cli import _selected

    entries = {"images": ("FID, KID, precision/recall, IS, class coverage of generated images",
                          "aigc.metrics.cli:add_eval_images"),
               "restore": ("PSNR and SSIM (Y channel and RGB) of restored images",
                           "aigc.metrics.cli:add_eval_restore")}
    for t in tasks():
        entries.update(t.evaluators)
    p = subparsers.add_parser("eval", help="evaluate outputs with trusted metrics",
                              description="Evaluate outputs with trusted metrics; `--json OUT` saves a report. "
                                          "Kinds: " + ", ".join(entries))
    sub = p.add_subparsers(dest="eval_kind", metavar="KIND", required=True)
    selected, _ = _selected(argv)
    for kind, (help_text, target) in entries.items():
        if kind == selected:
            resolve(target)(sub)
        else:
            sub.add_parser(kind, help=help_text)


def add_metrics(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    resolve("aigc.metrics.cli:add_metrics")(subparsers)


def known_tasks() -> list[str]:
    return list(TASKS)


def describe_task(name: str) -> dict[str, Any]:
    t = task(name)
    return {"name": t.name, "architectures": sorted(t.architectures), "media": list(t.media)}
