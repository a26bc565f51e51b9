"""The ``aigc`` command line.

Commands come from two places: the core ones below, and what each registered task declares in its
:class:`~aigc.core.task.Task` (``aigc.core.registry.TASKS``). Parsers are built lazily: only the
command being run imports its module, so ``aigc --help`` never imports torch.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Sequence

from aigc import __version__
from aigc.core.errors import AigcError

__all__ = ["main", "build_parser", "COMMANDS"]

# core command -> (one-line help, "module:function(subparsers, argv)")
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train a model into a model directory", "aigc.cli_commands:add_train"),
    "generate": ("generate outputs from a trained model directory", "aigc.cli_commands:add_generate"),
    "info": ("describe a model directory, or print the recipe of a generated file",
             "aigc.cli_commands:add_info"),
    "replay": ("regenerate a file from its recipe and check it is byte-identical",
               "aigc.cli_commands:add_replay"),
    "eval": ("evaluate outputs with trusted metrics", "aigc.cli_commands:add_eval"),
    "metrics": ("metric tooling: train domain feature extractors", "aigc.cli_commands:add_metrics"),
    "audit": ("audit a model: adversarial robustness, membership privacy", "aigc.tools.audit_cli:add_audit"),
    "verify": ("find the invisible watermark and recipe of a file", "aigc.tools.provenance.cli:add_verify"),
    "explain": ("show why a model decided: attributions, attention, latent maps",
                "aigc.tools.explain.cli:add_explain"),
    "serve": ("the studio: HTTP API and web UI for every task, with a job queue", "aigc.serve.cli:add_serve"),
    "worker": ("run the studio's queued jobs from Redis (aigc serve --queue)", "aigc.serve.cli:add_worker"),
    "data": ("dataset tooling: clean a dataset (SRC is never changed)", "aigc.data.clean.cli:add_data"),
    "compress": ("quantise or prune a model into a new model directory, behind a quality gate",
                 "aigc.tools.compress.cli:add_compress"),
    "export": ("export a model's networks to ONNX, checked against PyTorch in onnxruntime",
               "aigc.tools.export.cli:add_export"),
    "augment": ("write labelled synthetic samples from a class-conditional generator as an image folder",
                "aigc.tools.augment_cli:add_augment"),
}


def _task_commands() -> dict[str, tuple[str, Callable[[Any, list[str]], None]]]:
    """Every task's extra commands and model commands, name -> (help, adder)."""
    from aigc.core.registry import resolve, tasks

    out: dict[str, tuple[str, Callable[[Any, list[str]], None]]] = {}
    model_commands: dict[str, dict[str, str]] = {}
    helps: dict[str, str] = {}
    for task in tasks():
        for name, (help_text, target) in task.commands.items():
            out[name] = (help_text, lambda sp, argv, target=target: resolve(target)(sp))
        for name, (help_text, target) in task.model_commands.items():
            model_commands.setdefault(name, {})[task.name] = target
            helps[name] = help_text
    for name, registry in model_commands.items():
        def add(sp: Any, argv: list[str], name: str = name, registry: dict = registry) -> None:
            from aigc.cli_commands import add_model_command

            add_model_command(sp, name, helps[name], registry)
        out[name] = (helps[name], add)
    return out


def _selected(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """The first positional word of ``argv`` and what follows it."""
    for i, word in enumerate(argv):
        if not word.startswith("-"):
            return word, list(argv[i + 1:])
    return None, []


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``aigc`` parser; only the command named in ``argv`` gets its full (imported) parser."""
    from aigc.core.registry import resolve

    parser = argparse.ArgumentParser(
        prog="aigc", description="Train, generate, evaluate and ship generative models. "
        "`aigc COMMAND --help` explains each command; `aigc train --help` lists the tasks.")
    parser.add_argument("--version", action="version", version=f"aigc {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    selected, rest = _selected(argv)
    entries: dict[str, tuple[str, Callable[[Any, list[str]], None]]] = {
        name: (help_text, lambda sp, a, target=target: resolve(target)(sp, a))
        for name, (help_text, target) in COMMANDS.items()}
    entries.update(_task_commands())
    for name, (help_text, add) in entries.items():
        if name == selected:
            add(subparsers, rest)
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


def _command_parser(parser: argparse.ArgumentParser, argv: list[str],
                    args: argparse.Namespace) -> tuple[argparse.ArgumentParser, list[str]]:
    """The (sub)command parser that ``args`` came from, and the words of ``argv`` it parsed."""
    while True:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, sub.dest, None) if sub is not None else None
        if sub is None or name not in sub.choices or name not in argv:
            return parser, argv
        parser, argv = sub.choices[name], argv[argv.index(name) + 1:]


def _check_utf8(argv: Sequence[str]) -> None:
    """Arguments that are not valid UTF-8 (surrogate-escaped bytes) stop here with one line."""
    for word in argv:
        try:
            word.encode("utf-8")
        except UnicodeEncodeError as exc:
            shown = word.encode("utf-8", "backslashreplace").decode("ascii", "replace")
            raise AigcError(f"argument {shown!r} is not valid UTF-8 (byte at position {exc.start}); "
                            "pass UTF-8 text") from None


def _error_line(exc: BaseException) -> tuple[str, int]:
    """One line and an exit code: 2 for the user's mistakes, 1 for internal failures."""
    if isinstance(exc, AigcError):
        return f"aigc: error: {exc}", 2
    if isinstance(exc, OSError) and exc.filename is not None:
        what = {IsADirectoryError: "is a directory, give a file", NotADirectoryError: "a part of the path "
                "is a file, not a folder", FileExistsError: "already exists", FileNotFoundError: "not found",
                PermissionError: "permission denied"}.get(type(exc), exc.strerror or str(exc))
        return f"aigc: error: {exc.filename}: {what}", 2
    if isinstance(exc, MemoryError):
        return "aigc: error: out of memory; try smaller sizes, fewer samples or a smaller --batch-size", 2
    return (f"aigc: internal error ({type(exc).__name__}: {exc}); this is a bug in aigc. "
            "Run again with AIGC_DEBUG=1 to see the traceback"), 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Errors end with one line on stderr and a non-zero exit code (no traceback;
    set AIGC_DEBUG=1 to see it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _check_utf8(argv)
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        from aigc.core.recipe import pin_defaults, recording

        with recording(argv):  # files written carry the command that made them (aigc replay)
            pin_defaults(*_command_parser(parser, argv, args), args)  # ... with the defaults it ran with
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("aigc: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception as exc:  # the CLI boundary: one clear line instead of a traceback
        if os.environ.get("AIGC_DEBUG"):
            raise
        line, code = _error_line(exc)
        print(line, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
