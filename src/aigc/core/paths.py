"""Where data and caches live, independent of the working directory.

A dataset ``NAME`` is looked up in ``$AIGC_DATA_DIR/NAME`` when that is set (and only there: an
explicit setting wins); otherwise in the cache (``~/.cache/aigc/data/NAME``, or under
``$AIGC_CACHE_DIR`` / ``$XDG_CACHE_HOME``), then in a development fallback found from the package's
own location (``shared/data`` beside a source checkout).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "data_dirs", "cache_dir", "missing_dataset"]


def _dev_fallback() -> Path:
    # src/aigc/core/paths.py -> the checkout holding src/ -> its parent's shared/data
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def data_dirs() -> list[Path]:
    """The data roots searched, in order."""
    env = os.environ.get("AIGC_DATA_DIR")
    if env:
        return [Path(env).expanduser()]
    return [cache_dir() / "data", _dev_fallback()]


def data_dir(name: str | None = None) -> Path:
    """The data root holding dataset ``name`` (the first of :func:`data_dirs` that has it); without
    a name, or when none has it, ``$AIGC_DATA_DIR`` if set, else the first existing root, else the
    cache (where downloads go)."""
    roots = data_dirs()
    if name is not None:
        for root in roots:
            if (root / name).exists():
                return root
    if os.environ.get("AIGC_DATA_DIR"):
        return roots[0]
    for root in roots:
        if root.is_dir() and any(root.iterdir()):
            return root
    return cache_dir() / "data"


def missing_dataset(name: str, what: str = "") -> str:
    """One line saying which dataset is missing, where it was looked for, and what to set."""
    where = ", ".join(str(root / name) for root in data_dirs())
    extra = f" ({what})" if what else ""
    return (f"dataset {name!r}{extra} not found; looked in {where}. Put it in one of those folders or "
            f"set AIGC_DATA_DIR to the folder that holds {name}/")


def cache_dir() -> Path:
    """``$AIGC_CACHE_DIR``, else ``$XDG_CACHE_HOME/aigc``, else ``~/.cache/aigc``."""
    env = os.environ.get("AIGC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "aigc"
