"""Where data and caches live. ``AIGC_DATA_DIR`` / ``AIGC_CACHE_DIR`` override the defaults."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "cache_dir"]


def data_dir() -> Path:
    """``$AIGC_DATA_DIR``, else ``../shared/data`` (from the working directory) when it exists,
    else ``~/.cache/aigc/data``."""
    env = os.environ.get("AIGC_DATA_DIR")
    if env:
        return Path(env).expanduser()
    shared = Path.cwd().parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return cache_dir() / "data"


def cache_dir() -> Path:
    """``$AIGC_CACHE_DIR``, else ``$XDG_CACHE_HOME/aigc``, else ``~/.cache/aigc``."""
    env = os.environ.get("AIGC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "aigc"
