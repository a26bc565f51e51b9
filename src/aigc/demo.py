"""The main job (``make demo``): every registered task shows itself on embedded data.

Each task's :class:`~aigc.core.task.Task` names a ``demo`` function that trains a small model into
``runs/demo/<task>/`` and returns a section of ``runs/demo/report.html`` (pictures, players, tables)
with its figures (also in ``report.json``).

    python -m aigc.demo [--out runs/demo] [--scale 1.0] [--seed 0] [--tasks image-gen,text]
"""

from __future__ import annotations

import argparse
import html
import inspect
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from aigc.core.atomic import atomic_write_bytes, atomic_write_json
from aigc.core.errors import AigcError

__all__ = ["main", "run_demo"]

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


def run_demo(out: Path, scale: float = 1.0, seed: int = 0, only: list[str] | None = None) -> dict[str, Any]:
    """Run every task's demo into ``out`` and write report.html / report.json; returns the report."""
    from aigc.core.registry import resolve, tasks

    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"seed": seed, "scale": scale, "tasks": {}}
    sections = []
    for t in tasks():
        if t.demo is None or (only and t.name not in only):
            continue
        print(f"[demo] {t.name}: {t.summary} ...", flush=True)
        start = time.perf_counter()
        fn = resolve(t.demo)
        kwargs = {"scale": scale} if "scale" in inspect.signature(fn).parameters else {}
        part = fn(out / t.name, seed=seed, **kwargs)
        seconds = time.perf_counter() - start
        print(f"[demo] {t.name} done in {seconds:.0f}s", flush=True)
        report["tasks"][t.name] = {"title": part["title"], "seconds": round(seconds, 1), "figures": part.get("figures", {})}
        sections.append(f"<section><h2>{html.escape(part['title'])}</h2><p><small>{seconds:.0f} s</small></p>"
                        f"{_rebase(part['html'], t.name)}</section>")
    page = ["<!doctype html><meta charset='utf-8'><title>aigc demo</title>", f"<style>{STYLE}</style>",
            f"<h1>aigc demo</h1><p>Every task on embedded data, seed {seed}. Each section was trained here, "
            "on this machine, just now.</p>", *sections]
    atomic_write_json(out / "report.json", report)
    atomic_write_bytes(out / "report.html", "\n".join(page).encode("utf-8"))
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aigc.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the image and text models' steps (e.g. 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tasks", default=None, help="comma-separated task names (default: every task)")
    args = p.parse_args(argv)
    if not 0 < args.scale <= 100:
        print("demo: --scale must be in (0, 100]", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        report = run_demo(Path(args.out), args.scale, args.seed, args.tasks.split(",") if args.tasks else None)
    except AigcError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: v["seconds"] for k, v in report["tasks"].items()}))
    print(f"[demo] done in {time.perf_counter() - start:.0f}s: open {Path(args.out) / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
