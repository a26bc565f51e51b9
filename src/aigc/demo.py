"""The main job (``make demo``): every registered task shows itself on embedded data.

Each task's :class:`~aigc.core.task.Task` names a ``demo`` function that trains a small model into
``runs/demo/<task>/`` and returns a section of ``runs/demo/report.html`` (pictures, players, tables)
with its figures (also in ``report.json``).

The tasks run side by side, one process per core (``--jobs``), each with one torch thread: their
models are small enough that a second thread gains little, and every demo budgets its training in
its own process's CPU seconds, so the pictures do not depend on how many run at once. On a 2-core
machine the whole demo takes about half as long as one task after the other. Tasks start longest
first: by the seconds an earlier ``report.json`` in the output folder gives them, else by each task's
``demo_seconds``.

    python -m aigc.demo [--out runs/demo] [--scale 1.0] [--seed 0] [--tasks image-gen,text] [--jobs 2]
"""

from __future__ import annotations

import argparse
import html
import inspect
import json
import os
import re
import sys
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from aigc.core.atomic import atomic_write_bytes, atomic_write_json
from aigc.core.errors import AigcError

__all__ = ["main", "run_demo", "usable_cores", "DemoError"]


class DemoError(AigcError):
    """A task's demo failed (the message names the task)."""


STYLE = ("body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em}img{image-rendering:pixelated;"
         "max-width:100%}td,th{padding:2px 8px;text-align:left}pre{white-space:pre-wrap;background:#f4f4f4;"
         "padding:1em}section{border-top:1px solid #ccc;margin-top:2em}")


_URL = re.compile(r"""\b(src|href)=(['"])([^'"]+)\2""")


def _rebase(fragment: str, prefix: str) -> str:
    """Make a section's relative src/href point into its task folder."""
    def fix(m: re.Match) -> str:
        attr, quote, url = m.groups()
        if re.match(r"^([a-z][a-z0-9+.-]*:|/|#)", url):
            return m.group(0)
        return f"{attr}={quote}{prefix}/{url}{quote}"

    return _URL.sub(fix, fragment)


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_task(name: str, demo: str, out: Path, seed: int, scale: float, threads: int | None) -> dict[str, Any]:
    """One task's demo (in a worker process when ``threads`` is set); an AigcError comes back as
    ``{"error": message}`` so a worker never has to pickle an exception."""
    from aigc.core.registry import resolve

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    print(f"[demo] {name} ...", flush=True)
    start = time.perf_counter()
    fn = resolve(demo)
    kwargs = {"scale": scale} if "scale" in inspect.signature(fn).parameters else {}
    try:
        part = fn(out / name, seed=seed, **kwargs)
    except AigcError as exc:
        return {"error": f"{name}: {exc}"}
    seconds = time.perf_counter() - start
    print(f"[demo] {name} done in {seconds:.0f}s", flush=True)
    return {"part": part, "seconds": seconds}


def _longest_first(names: list[str], out: Path, expected: dict[str, float] | None = None) -> list[str]:
    """``names`` ordered by the seconds an earlier report in ``out`` gave them, else by ``expected``
    (each task's ``demo_seconds``), longest first; a task neither knows starts first. On two cores a
    first run in registry order waited ~20 s longer (image-gen, the longest, started late)."""
    took = {k: float(v) for k, v in (expected or {}).items() if v}
    try:
        before = json.loads((out / "report.json").read_text())["tasks"]
        took.update({k: float(v["seconds"]) for k, v in before.items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return sorted(names, key=lambda n: -took.get(n, float("inf")))


def _run_side_by_side(demos: dict[str, str], out: Path, seed: int, scale: float, jobs: int,
                      results: dict[str, dict[str, Any]], expected: dict[str, float] | None = None) -> None:
    """Run ``demos`` (task name -> demo function path) in ``jobs`` worker processes, filling
    ``results`` as they finish. A task starts only when a worker is free, so after a failure or
    Ctrl-C (which the running trainers answer with a checkpoint) nothing new starts."""
    pending = deque(_longest_first(list(demos), out, expected))
    threads = max(1, usable_cores() // jobs)
    running: dict[Any, str] = {}
    stop = False
    # spawn, not fork: the parent may already hold torch's thread pools
    with ProcessPoolExecutor(max_workers=min(jobs, len(demos)), mp_context=get_context("spawn")) as pool:
        while running or (pending and not stop):
            while pending and not stop and len(running) < jobs:
                name = pending.popleft()
                running[pool.submit(_run_task, name, demos[name], out, seed, scale, threads)] = name
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                results[name] = future.result()
                stop = stop or "error" in results[name]


def run_demo(out: Path, scale: float = 1.0, seed: int = 0, only: list[str] | None = None,
             jobs: int = 1) -> dict[str, Any]:
    """Run every task's demo into ``out`` (``jobs`` processes side by side; 1 runs them here, one
    after the other) and write report.html / report.json; returns the report."""
    from aigc.core.registry import tasks

    chosen = [t for t in tasks() if t.demo is not None and (not only or t.name in only)]
    out.mkdir(parents=True, exist_ok=True)
    for t in chosen:
        print(f"[demo] {t.name}: {t.summary}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    interrupted = False
    try:
        if jobs <= 1 or len(chosen) <= 1:
            for t in chosen:
                results[t.name] = _run_task(t.name, t.demo, out, seed, scale, None)
                if "error" in results[t.name]:
                    break
        else:
            _run_side_by_side({t.name: t.demo for t in chosen}, out, seed, scale, jobs, results,
                              {t.name: t.demo_seconds for t in chosen if t.demo_seconds})
    except KeyboardInterrupt:
        interrupted = True
    done = [t for t in chosen if "part" in results.get(t.name, {})]
    report: dict[str, Any] = {"seed": seed, "scale": scale, "jobs": jobs, "complete": len(done) == len(chosen),
                              "tasks": {}}
    sections = []
    for t in done:  # the registry's order, whatever order they finished in
        part, seconds = results[t.name]["part"], results[t.name]["seconds"]
        report["tasks"][t.name] = {"title": part["title"], "seconds": round(seconds, 1), "figures": part.get("figures", {})}
        sections.append(f"<section><h2>{html.escape(part['title'])}</h2><p><small>{seconds:.0f} s</small></p>"
                        f"{_rebase(part['html'], t.name)}</section>")
    missing = [t.name for t in chosen if t not in done]
    note = f"<p><b>Stopped early: no section for {html.escape(', '.join(missing))}.</b></p>" if missing else ""
    page = ["<!doctype html><meta charset='utf-8'><title>aigc demo</title>", f"<style>{STYLE}</style>",
            f"<h1>aigc demo</h1><p>Every task on embedded data, seed {seed}. Each section was trained here, "
            f"on this machine, just now.</p>{note}", *sections]
    atomic_write_json(out / "report.json", report)
    atomic_write_bytes(out / "report.html", "\n".join(page).encode("utf-8"))
    if interrupted:
        raise KeyboardInterrupt
    failed = [r["error"] for r in results.values() if "error" in r]
    if failed:
        raise DemoError("; ".join(failed) + f" (the {len(done)} sections that finished are in {out / 'report.html'})")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aigc.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the image and text models' steps (e.g. 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tasks", default=None, help="comma-separated task names (default: every task)")
    p.add_argument("--jobs", type=int, default=None,
                   help="tasks run side by side, one process each (default: the usable cores, here "
                        f"{usable_cores()}; 1 runs them one after the other in this process)")
    args = p.parse_args(argv)
    if not 0 < args.scale <= 100:
        print("demo: --scale must be in (0, 100]", file=sys.stderr)
        return 2
    jobs = usable_cores() if args.jobs is None else args.jobs
    if not 1 <= jobs <= 64:
        print(f"demo: --jobs must be between 1 and 64, got {jobs}", file=sys.stderr)
        return 2
    if args.tasks:
        from aigc.core.registry import tasks

        unknown = sorted(set(args.tasks.split(",")) - {t.name for t in tasks()})
        if unknown:
            print(f"demo: unknown task(s) {', '.join(unknown)}; choose from "
                  f"{', '.join(t.name for t in tasks())}", file=sys.stderr)
            return 2
    start = time.perf_counter()
    try:
        report = run_demo(Path(args.out), args.scale, args.seed, args.tasks.split(",") if args.tasks else None,
                          jobs)
    except AigcError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"demo: interrupted; {Path(args.out) / 'report.html'} shows the sections that finished",
              file=sys.stderr)
        return 130
    print(json.dumps({k: v["seconds"] for k, v in report["tasks"].items()}))
    print(f"[demo] done in {time.perf_counter() - start:.0f}s: open {Path(args.out) / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
