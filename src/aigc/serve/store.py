"""The model store: model directories under ``--models`` by name, and files that cannot escape it.

A name is one path segment of letters, digits, ``.``, ``_`` and ``-`` (not starting with a dot);
every path handed out is resolved and checked to lie inside its root, so ``..``, absolute paths and
symbolic links pointing elsewhere are refused with a 4xx instead of reading another file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aigc.core.errors import BadInputError

__all__ = ["ModelStore", "NotFound", "inside", "safe_name"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class NotFound(BadInputError):
    """A model, job or file that does not exist (HTTP 404)."""


def safe_name(name: str, what: str = "name") -> str:
    """``name`` when it is one harmless path segment, else a clear error."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise BadInputError(f"{what} {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
                            "(no '/', no leading dot, at most 100 characters)")
    return name


def inside(root: Path, *parts: str) -> Path:
    """``root/parts...`` resolved, refusing anything that lands outside ``root``."""
    for part in parts:
        safe_name(part, "file name")
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root.resolve()):
        raise BadInputError(f"{'/'.join(parts)!r} points outside its folder")
    return path


class ModelStore:
    """Model directories (folders holding config.json) directly under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, name: str) -> Path:
        """The directory of model ``name``; 404 when it is not a model."""
        path = inside(self.root, safe_name(name, "model name"))
        if not (path / "config.json").is_file():
            raise NotFound(f"no model named {name!r} in the studio's models folder")
        return path

    def new_path(self, name: str) -> Path:
        """Where a training job named ``name`` writes its model."""
        return inside(self.root, safe_name(name, "model name"))

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and _NAME.match(p.name) and (p / "config.json").is_file())

    def summary(self, name: str) -> dict[str, Any]:
        """Task, architecture and step of a model, from config.json alone (cheap)."""
        from aigc.core.modeldir import read_config

        config = read_config(self.path(name))
        return {"name": name, "task": config["task"], "architecture": config["architecture"],
                "sample_url": f"/api/models/{name}/sample" if self.sample(name) else None}

    def detail(self, name: str) -> dict[str, Any]:
        """What ``aigc info`` shows: the whole config (recipe), model id, sizes and step."""
        from aigc.core.pipeline import describe

        info = describe(self.path(name))
        info.pop("path", None)  # the server's own folders are not the client's business
        info["name"] = name
        info["sample_url"] = f"/api/models/{name}/sample" if self.sample(name) else None
        return info

    def sample(self, name: str) -> Path | None:
        """The newest preview image the Trainer wrote into ``samples/``."""
        folder = self.path(name) / "samples"
        if not folder.is_dir():
            return None
        pngs = sorted(folder.glob("*.png"), key=lambda p: (p.stat().st_mtime, p.name))
        return pngs[-1] if pngs else None
