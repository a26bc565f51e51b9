"""Running jobs: each kind is an ``aigc`` command line built from the job's spec and run by the same
function the CLI runs, inside :func:`aigc.core.progress.reporting` so its progress lands in the job's
events and its cancel button is heard at the next step (training), denoising step or token.

:func:`execute` is shared by the embedded worker threads here and by ``aigc worker`` on Redis.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aigc.core import progress
from aigc.core.errors import AigcError, BadInputError
from aigc.serve.commands import (
    OUT_SUFFIX,
    Resolver,
    as_recorded,
    check_limits,
    eval_command,
    generate_command,
    train_command,
)

__all__ = ["JobReporter", "WorkerPool", "execute", "outcome", "run_one"]

_THROTTLED = {"train", "token", "denoise", "sample"}


class JobReporter:
    """A progress reporter writing a job's events (frequent kinds at most every ``interval_s``)."""

    def __init__(self, add_event: Callable[[dict], Any], cancelled: Callable[[], bool], folder: Path,
                 interval_s: float = 0.1) -> None:
        self.add_event, self._cancelled, self.folder = add_event, cancelled, folder
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._cancel_seen = False

    def update(self, event: dict[str, Any]) -> None:
        kind = event.get("kind", "")
        now = time.monotonic()
        final = event.get("total") is not None and event.get("done") == event.get("total")
        if kind in _THROTTLED and not final and now - self._last.get(kind, -1e9) < self.interval_s:
            return
        self._last[kind] = now
        if kind == "preview" and event.get("path"):
            src = Path(event.pop("path"))
            name = f"preview-{int(event.get('done') or 0):08d}{src.suffix}"
            if src.is_file():
                self.folder.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, self.folder / name)
                event["file"] = name
        event.pop("path", None)  # server paths stay on the server
        self.add_event(_json_safe(event))

    def cancelled(self) -> bool:
        if not self._cancel_seen:
            self._cancel_seen = self._cancelled()
        return self._cancel_seen


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def execute(kind: str, spec: dict[str, Any], folder: Path, *, store: Any, resolver: Resolver, limits: Any,
            device: str) -> dict[str, Any]:
    """Run one job; its files go to ``folder`` (a training job's model to ``store``). Returns its result."""
    from aigc.core.registry import task

    folder.mkdir(parents=True, exist_ok=True)
    params = spec.get("params") or {}
    if kind == "train":
        out = store.new_path(spec["model"])
        args, argv = train_command(spec["task"], params, out, device, resolver, resume=bool(spec.get("resume")))
        check_limits(args, limits, training=True)
        with as_recorded(argv):
            args.func(args)
        return {"model": spec["model"], "argv": argv[:2] + [w for w in argv[2:] if not w.startswith("--out=")]}
    if kind == "generate":
        model_dir = store.path(spec["model"])
        t = task(store.summary(spec["model"])["task"])
        media = [m for m in t.media if m in OUT_SUFFIX]
        fmt = spec.get("format") or (media[0] if media else "json")
        if fmt not in media:
            raise BadInputError(f"format {fmt!r}: {t.name} models write {', '.join(media)}")
        command = spec.get("command") or "generate"
        args, argv = generate_command(t, model_dir, params, folder / f"out{OUT_SUFFIX[fmt]}", device, resolver,
                                      command)
        check_limits(args, limits)
        with as_recorded([command, str(model_dir), *argv]):
            args.func(args)
        return {"files": _files(folder)}
    if kind == "eval":
        args, argv = eval_command(spec["eval"], params, folder / "report.json", resolver)
        with as_recorded(argv):
            args.func(args)
        return {"files": _files(folder)}
    raise BadInputError(f"unknown job kind {kind!r}; use train, generate or eval")


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def outcome(exc: BaseException | None) -> tuple[str, str | None]:
    """A finished job's state and error line from the exception it ended with (None = success)."""
    if exc is None:
        return "done", None
    if isinstance(exc, progress.Cancelled):
        step = getattr(exc, "step", None)  # a training job: say where it stopped, not the server's folder
        return "cancelled", (str(exc) if step is None else
                             f"cancelled at step {step}; checkpoint saved. Resume the job to continue")
    if isinstance(exc, AigcError):
        return "failed", str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return "failed", f"{Path(str(exc.filename)).name}: {exc.strerror or exc}"
    return "failed", f"internal error ({type(exc).__name__}: {exc})"


class WorkerPool:
    """In-process workers taking queued jobs from a :class:`~aigc.serve.jobs.JobStore`."""

    def __init__(self, jobs: Any, run: Callable[[dict, JobReporter], dict], folder_of: Callable[[str], Path],
                 workers: int = 1, event_interval_s: float = 0.1) -> None:
        self.jobs, self.run, self.folder_of = jobs, run, folder_of
        self.event_interval_s = event_interval_s
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, name=f"aigc-worker-{i}", daemon=True)
                         for i in range(workers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.jobs.wake()  # idle workers wait for a change: this is one
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        version = self.jobs.version()
        while not self._stop.is_set():
            job = self.jobs.claim()
            if job is None:
                version = self.jobs.wait_change(version, timeout=5.0)
                continue
            self._run_job(job)

    def _run_job(self, job: dict[str, Any]) -> None:
        run_one(self.jobs, job, self.run, self.folder_of(job["id"]), self.event_interval_s,
                worker=threading.current_thread().name)


def run_one(jobs: Any, job: dict[str, Any], run: Callable[[dict, JobReporter], dict], folder: Path,
            event_interval_s: float = 0.1, worker: str = "") -> str:
    """Run a claimed job under a progress reporter writing into ``jobs``; record its end. Its state."""
    job_id = job["id"]
    add = lambda event: jobs.add_event(job_id, event)
    reporter = JobReporter(add, lambda: jobs.cancel_requested(job_id), folder, event_interval_s)
    add({"kind": "state", "state": "running", **({"worker": worker} if worker else {})})
    error: BaseException | None = None
    result = None
    try:
        with progress.reporting(reporter):
            result = run(job, reporter)
    except Exception as exc:  # noqa: BLE001 -- the job's end, recorded; the worker goes on
        error = exc
    state, message = outcome(error)
    add({"kind": "state", "state": state, **({"error": message} if message else {})})
    jobs.finish(job_id, state, result=result, error=message)
    return state
