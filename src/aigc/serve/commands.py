"""Requests become the same ``aigc`` command lines a user would type, parsed by the same parsers and
run by the same functions (one code path with the CLI).

A request's parameters are ``{"flag_name": value}`` with the flags' destination names (``max_tokens``
for ``--max-tokens``; ``true`` for a switch, a list for a repeatable flag). Each name must be an
exact flag of the command's parser (no abbreviations), ``--out`` and ``--device`` are set by the
studio, and a value may name a file only through ``upload:ID`` (a decoded upload) or
``model:NAME`` (a model directory of the studio): other paths are refused, so a request cannot make
the server read or write outside its folders.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aigc.core.errors import BadInputError

__all__ = [
    "OUT_SUFFIX",
    "Resolver",
    "as_recorded",
    "check_limits",
    "describe_form",
    "eval_command",
    "generate_command",
    "parse_strict",
    "to_argv",
    "train_command",
]

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
STUDIO_FLAGS = frozenset({"out", "device", "help", "no_progress", "progress", "json", "stream"})  # stream: the API's own
# the file a generate request writes, by the task's first medium (``Task.media``)
OUT_SUFFIX = {"png": ".png", "wav": ".wav", "mid": ".mid", "gif": ".gif", "mp4": ".mp4", "txt": ".txt",
              "json": ".json"}


class Resolver:
    """Maps ``upload:ID`` and ``model:NAME`` values to paths; refuses any other path."""

    def __init__(self, upload_path: Callable[[str], Path], model_path: Callable[[str], Path]) -> None:
        self.upload_path, self.model_path = upload_path, model_path

    def value(self, key: str, value: str) -> str:
        if value.startswith("upload:"):
            return str(self.upload_path(value[len("upload:"):]))
        if value.startswith("model:"):
            return str(self.model_path(value[len("model:"):]))
        rest = value.split(":", 1)[1] if re.match(r"^[a-z][a-z0-9-]*:", value) else value
        if rest.startswith(("/", "~", "\\")) or re.match(r"^[A-Za-z]:[\\/]", rest) \
                or ".." in re.split(r"[\\/]", rest) or (rest and os.path.exists(rest) and "/" in rest):
            raise BadInputError(f"{key}: {value!r} names a file on the server; send the file as an "
                                "upload and pass 'upload:ID', or a studio model as 'model:NAME'")
        return value


def _scalar(key: str, value: Any, resolver: Resolver) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadInputError(f"parameter {key!r}: give a string, number or true, not {type(value).__name__}")
    if isinstance(value, str):
        if "\x00" in value:
            raise BadInputError(f"parameter {key!r}: contains a NUL character")
        return resolver.value(key, value)
    return repr(value) if isinstance(value, float) else str(value)


def to_argv(parser: argparse.ArgumentParser, params: Mapping[str, Any], resolver: Resolver,
            allowed_studio: frozenset[str] = frozenset()) -> list[str]:
    """``params`` as command-line words for ``parser``; every name must be one of its flags."""
    if not isinstance(params, Mapping):
        raise BadInputError("params must be a JSON object of flag names to values")
    options = parser._option_string_actions
    argv: list[str] = []
    for key, value in params.items():
        flag = "--" + key.replace("_", "-")
        if not isinstance(key, str) or not _KEY.match(key) or flag not in options:
            known = sorted(o[2:].replace("-", "_") for o in options if o.startswith("--")
                           and o[2:].replace("-", "_") not in STUDIO_FLAGS)
            raise BadInputError(f"unknown parameter {key!r}; this command takes: {', '.join(known)}")
        if key in STUDIO_FLAGS and key not in allowed_studio:
            raise BadInputError(f"parameter {key!r} is set by the studio; leave it out")
        if value is None or value is False:
            continue
        if value is True:
            if options[flag].nargs != 0:
                raise BadInputError(f"parameter {key!r} needs a value, not true")
            argv.append(flag)
            continue
        for item in value if isinstance(value, list) else [value]:
            argv.append(f"{flag}={_scalar(key, item, resolver)}")
    return argv


def _raise_instead_of_exit(parser: argparse.ArgumentParser) -> None:
    """argparse prints and exits on bad input; here it raises one clear line (and so do sub-parsers)."""
    def error(message: str) -> None:
        raise BadInputError(message)

    parser.error = error  # type: ignore[method-assign]
    parser.exit_on_error = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _raise_instead_of_exit(sub)


def parse_strict(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    _raise_instead_of_exit(parser)
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # e.g. --help or --version: not something a request may ask for
        raise BadInputError(f"these parameters make the command exit ({exc.code}); check them") from None
    except argparse.ArgumentError as exc:
        raise BadInputError(str(exc)) from None


def generate_command(task: Any, model_dir: Path, params: Mapping[str, Any], out: Path, device: str,
                     resolver: Resolver, command: str | None = None) -> tuple[argparse.Namespace, list[str]]:
    """The parsed ``aigc generate DIR ...`` (or ``aigc COMMAND DIR ...`` for a task's model command,
    e.g. inpaint) writing into ``out``, and its argv; run it with ``args.func(args)``."""
    from aigc.core.registry import resolve

    if command is None or command == "generate":
        if not task.generate_parser:
            raise BadInputError(f"{task.name} models have no generate command; use one of their model "
                                f"commands: {', '.join(sorted(task.model_commands)) or 'none'}")
        target = task.generate_parser
    elif command in task.model_commands:
        target = task.model_commands[command][1]
    else:
        raise BadInputError(f"{task.name} models have no command {command!r}; they take: "
                            f"{', '.join(['generate'] * bool(task.generate_parser) + sorted(task.model_commands))}")
    parser = resolve(target)(str(model_dir))
    argv = to_argv(parser, params, resolver) + [f"--out={out}"]
    if "--device" in parser._option_string_actions:
        argv.append(f"--device={device}")
    if "--no-progress" in parser._option_string_actions:
        argv.append("--no-progress")
    return parse_strict(parser, argv), argv


def train_command(task_name: str, params: Mapping[str, Any], out: Path, device: str, resolver: Resolver,
                  *, resume: bool = False) -> tuple[argparse.Namespace, list[str]]:
    """The parsed ``aigc train TASK ... --out OUT [--resume]``; ``args.func(args)`` trains through
    the task's ``train()`` exactly as the CLI does."""
    from aigc.cli import build_parser
    from aigc.core.registry import task

    task(task_name)  # a clear error for unknown tasks
    probe = build_parser(["train", task_name])
    train_parser = _subparser(probe, "train", task_name)
    words = to_argv(train_parser, params, resolver, allowed_studio=frozenset({"no_progress"}))
    words += [f"--out={out}", "--no-progress"] + (["--resume"] if resume else [f"--device={device}"])
    argv = ["train", task_name, *words]
    return parse_strict(build_parser(argv), argv), argv


def eval_command(kind: str, params: Mapping[str, Any], out: Path, resolver: Resolver
                 ) -> tuple[argparse.Namespace, list[str]]:
    """The parsed ``aigc eval KIND ... --json OUT`` (report written to ``out``)."""
    from aigc.cli import build_parser

    probe = build_parser(["eval", kind])
    try:
        eval_parser = _subparser(probe, "eval", kind)
    except KeyError:
        raise BadInputError(f"unknown evaluation {kind!r}") from None
    words = to_argv(eval_parser, params, resolver)
    if "--json" in eval_parser._option_string_actions:
        words.append(f"--json={out}")
    argv = ["eval", kind, *words]
    return parse_strict(build_parser(argv), argv), argv


def _subparser(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if name not in action.choices:
            raise KeyError(name)
        parser = action.choices[name]
    return parser


def check_limits(args: argparse.Namespace, limits: Any, *, training: bool = False) -> None:
    """The studio's bounds on the common size flags (``n``, ``max_tokens``, ``steps``, prompts)."""
    checks = [("n", limits.samples, "max-samples"), ("max_tokens", limits.tokens, "max-tokens"),
              ("steps", limits.train_steps if training else limits.steps,
               "max-train-steps" if training else "max-steps")]
    for dest, bound, flag in checks:
        value = getattr(args, dest, None)
        if isinstance(value, int) and value > bound:
            raise BadInputError(f"{dest} = {value} is above this studio's limit of {bound} (aigc serve --{flag})")
    prompts = getattr(args, "prompt", None)
    if isinstance(prompts, list) and len(prompts) > limits.samples:
        raise BadInputError(f"{len(prompts)} prompts is above this studio's limit of {limits.samples}")


def _field_kind(action: argparse.Action) -> str:
    if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):
        return "bool"
    if isinstance(action, argparse._AppendAction) or action.nargs in ("+", "*"):
        return "list"
    name = getattr(action.type, "__name__", "") if action.type is not None else ""
    if action.type is int or name.startswith(("int", "positive_int", "bounded_int", "nonneg")):
        return "int"
    if action.type is float or "float" in name:
        return "float"
    return "str"


def describe_form(parser: argparse.ArgumentParser) -> list[dict[str, Any]]:
    """The flags a request may set on ``parser`` (its destination names, kinds, defaults, choices and
    help), for a form that works for every task (the web UI builds its generate page from it)."""
    fields = []
    for action in parser._actions:
        if not action.option_strings or action.dest in STUDIO_FLAGS or action.help == argparse.SUPPRESS:
            continue
        default = action.default if isinstance(action.default, (str, int, float, bool, list)) else None
        off = [o[5:].replace("-", "_") for o in action.option_strings if o.startswith("--no-")]
        fields.append({"name": action.dest, "flag": action.option_strings[0], "kind": _field_kind(action),
                       "default": None if default == argparse.SUPPRESS else default,
                       "off": ("no_" + off[0]) if off and action.default is True else None,
                       "choices": [str(c) for c in action.choices] if action.choices else None,
                       "help": _form_help(action), "required": bool(action.required)})
    return fields


def _form_help(action: argparse.Action) -> str:
    """The flag's help as a form field says it: a ``--no-X`` flag is a box that is ticked by default, so
    its help (which describes the flag) says that unticking it is the flag."""
    text = (action.help or "").replace("%%", "%")
    off = next((o for o in action.option_strings if o.startswith("--no-")), None)
    if off and action.default is True:
        return f"untick for {off}: {text}" if text else f"untick for {off}"
    return text


def as_recorded(argv: list[str]) -> Any:
    """A context in which outputs' recipes record ``argv`` (the request's own ``aigc`` command line, for
    ``aigc replay``) rather than the command that started the server or worker."""
    import contextlib

    try:
        from aigc.core.recipe import recording
    except ImportError:  # an aigc without replay records
        return contextlib.nullcontext()
    return recording(argv, rename={})  # rename={} (not None): the request's command wins over the outer one
