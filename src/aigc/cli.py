"""The ``aigc`` command line. Top-level commands and each task's sub-commands are plain registries."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from aigc import __version__
from aigc.core.errors import AigcError
from aigc.core.registry import resolve

__all__ = ["main", "COMMANDS", "TRAIN_TASKS", "GENERATE_TASKS", "INPAINT_TASKS"]

# command -> "module:function(subparsers)" that adds the command's parser
COMMANDS: dict[str, str] = {
    "train": "aigc.cli:add_train",
    "generate": "aigc.cli:add_generate",
    "inpaint": "aigc.cli:add_inpaint",
    "info": "aigc.cli:add_info",
    "eval": "aigc.metrics.cli:add_eval",
    "metrics": "aigc.metrics.cli:add_metrics",
    "upscale": "aigc.restore.cli:add_upscale",
    "denoise": "aigc.restore.cli:add_denoise",
    "stylize": "aigc.restore.cli:add_stylize",
    "chat": "aigc.text.cli:add_chat",
    "import": "aigc.text.cli:add_import",
}

# `aigc train <task>` -> "module:function(subparsers)"
TRAIN_TASKS: dict[str, str] = {
    "image-gen": "aigc.image_gen.cli:add_train",
    "restore": "aigc.restore.cli:add_train",
    "text": "aigc.text.cli:add_train",
}

# task of a model directory -> "module:function(model_dir) -> argparse.ArgumentParser" for `aigc generate`
GENERATE_TASKS: dict[str, str] = {
    "image-gen": "aigc.image_gen.cli:generate_parser",
    "text": "aigc.text.cli:generate_parser",
}


# task of a model directory -> "module:function(model_dir) -> argparse.ArgumentParser" for `aigc inpaint`
INPAINT_TASKS: dict[str, str] = {
    "image-gen": "aigc.image_gen.cli:inpaint_parser",
    "restore": "aigc.restore.cli:inpaint_parser",
}


def add_train(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a model into a model directory",
                              description="Train a model. Pick a task, e.g. `aigc train image-gen --help`.")
    tasks = p.add_subparsers(dest="task", metavar="TASK", required=True)
    for target in TRAIN_TASKS.values():
        resolve(target)(tasks)


def _add_model_command(subparsers: argparse._SubParsersAction, name: str, help: str,
                       registry: dict[str, str]) -> None:
    """A command whose options depend on the task of the model directory it is given."""
    p = subparsers.add_parser(
        name, help=help, add_help=False,
        description=f"{help[0].upper()}{help[1:]}. Options depend on the model's task; "
                    f"`aigc {name} DIR --help` lists them.")
    p.add_argument("-h", "--help", action="store_true", help="show this help (with DIR: the task's options)")
    p.add_argument("model_dir", nargs="?", help="model directory written by `aigc train`")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="the task's options")
    p.set_defaults(func=lambda args: _run_model_command(args, p, name, registry))


def _run_model_command(args: argparse.Namespace, parser: argparse.ArgumentParser, name: str,
                       registry: dict[str, str]) -> int:
    from aigc.core.modeldir import read_config

    if args.model_dir is None:
        parser.print_help()
        print(f"\ntasks with `{name}`: {', '.join(sorted(registry)) or 'none yet'}")
        return 0 if args.help else 2
    task = read_config(args.model_dir)["task"]
    if task not in registry:
        raise AigcError(f"{args.model_dir}: a {task!r} model has no `{name}` command; "
                        f"`{name}` works with: {', '.join(sorted(registry)) or 'none yet'}")
    sub_parser = resolve(registry[task])(args.model_dir)
    sub = sub_parser.parse_args(["--help", *args.rest] if args.help else args.rest)
    return sub.func(sub)


def add_generate(subparsers: argparse._SubParsersAction) -> None:
    _add_model_command(subparsers, "generate", "generate outputs from a trained model directory",
                       GENERATE_TASKS)


def add_inpaint(subparsers: argparse._SubParsersAction) -> None:
    _add_model_command(subparsers, "inpaint", "fill a masked region of an image with a trained model",
                       INPAINT_TASKS)


def add_info(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="describe a model directory",
                              description="Print a model directory's task, architecture, "
                                          "hyper-parameters, model id, size and training step.")
    p.add_argument("model_dir")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> int:
    from aigc.core.pipeline import describe

    info = describe(args.model_dir)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        print(f"{key:>14}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aigc", description="Train, generate, evaluate and ship generative models.")
    parser.add_argument("--version", action="version", version=f"aigc {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for target in COMMANDS.values():
        resolve(target)(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Errors end with one line on stderr and a non-zero exit code (no traceback;
    set AIGC_DEBUG=1 to see it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("aigc: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI boundary: one clear line instead of a traceback
        if os.environ.get("AIGC_DEBUG"):
            raise
        kind = "error" if isinstance(exc, (AigcError, OSError)) else f"error ({type(exc).__name__})"
        print(f"aigc: {kind}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, AigcError) else 1


if __name__ == "__main__":
    sys.exit(main())
