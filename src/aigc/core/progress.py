"""Progress events and cooperative cancel for long work, with no dependency on who listens.

Library code (the Trainer, samplers, token loops) calls :func:`report` and :func:`check_cancelled`;
both do nothing unless a caller installed a reporter with :func:`reporting` — the studio's job
runner does, the CLI does not (it has its progress bars). The reporter lives in a ContextVar, so it
is per thread: install it in the thread that runs the work.

    class Printer:
        def update(self, event): print(event["kind"], event["done"], "/", event["total"])
        def cancelled(self): return False

    with progress.reporting(Printer()):
        pipeline.generate(n=4)
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator, Protocol

from aigc.core.errors import AigcError

__all__ = ["Cancelled", "Reporter", "reporting", "report", "check_cancelled", "active"]


class Cancelled(AigcError):
    """The work was cancelled by its reporter (e.g. a studio job's cancel button)."""


class Reporter(Protocol):
    """Receives progress events; says whether the work should stop."""

    def update(self, event: dict[str, Any]) -> None: ...

    def cancelled(self) -> bool: ...


_current: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar("aigc_progress", default=None)


@contextlib.contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Send the events of the work run inside this block to ``reporter``."""
    token = _current.set(reporter)
    try:
        yield
    finally:
        _current.reset(token)


def active() -> bool:
    """Whether a reporter listens (lets callers skip building costly event payloads)."""
    return _current.get() is not None


def report(kind: str, done: int, total: int | None = None, **info: Any) -> None:
    """Send ``{"kind", "done", "total", **info}`` to the current reporter, if any."""
    reporter = _current.get()
    if reporter is not None:
        reporter.update({"kind": kind, "done": done, "total": total, **info})


def check_cancelled(what: str = "work") -> None:
    """Raise :class:`Cancelled` when the current reporter asks to stop."""
    reporter = _current.get()
    if reporter is not None and reporter.cancelled():
        raise Cancelled(f"{what} cancelled")
