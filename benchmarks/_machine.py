"""Describe the machine a benchmark ran on (written into every result JSON)."""

from __future__ import annotations

import os
import platform
import sys

import torch

__all__ = ["machine", "command"]


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _portable(arg: str) -> str:
    """An absolute path outside the repository reads ``$WORK/<name>``: results name no folder of the
    machine they ran on (``--out /tmp/x/a.json`` -> ``--out $WORK/a.json``)."""
    flag, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    if "," in value:  # a list of paths (--models-from A,B): each one on its own
        return f"{flag}{eq}" + ",".join(_portable(v) for v in value.split(","))
    if not value.startswith(("/", "~")):
        return arg
    path = os.path.abspath(os.path.expanduser(value))
    if path.startswith(REPO + os.sep):
        value = os.path.relpath(path, REPO)
    else:
        value = "$WORK/" + os.path.basename(path.rstrip("/"))
    return f"{flag}{eq}{value}"


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command() -> str:
    """The command line that produced a result, paths outside the repository as ``$WORK/<name>``."""
    script = sys.argv[0]
    if os.path.isabs(script) and os.path.abspath(script).startswith(REPO + os.sep):
        script = os.path.relpath(script, REPO)
    return " ".join(["python", script, *(_portable(a) for a in sys.argv[1:])])
