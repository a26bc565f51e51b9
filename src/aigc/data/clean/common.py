"""What every cleaner shares: the verdict on one file or record, and how kept files reach DST.

SRC is only ever read. Kept files are hard-linked into DST (the same bytes, no copy) and copied
where a link is impossible (another file system); a repaired file (text, table) is written anew.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc.core.errors import BadInputError

__all__ = [
    "AUDIO_SUFFIXES",
    "IMAGE_SUFFIXES",
    "TABLE_SUFFIXES",
    "TEXT_SUFFIXES",
    "Drop",
    "KindReport",
    "check_out_dir",
    "link_or_copy",
    "list_files",
]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
TEXT_SUFFIXES = frozenset({".txt", ".md", ".text"})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".aiff", ".aif"})
TABLE_SUFFIXES = frozenset({".csv", ".tsv"})


@dataclass
class Drop:
    """One dropped item: a file (``item`` = its path relative to SRC) or a record inside one
    (``item`` = "file:line"), the reason code, a sentence, and an optional thumbnail (PNG bytes)."""

    item: str
    reason: str
    detail: str = ""
    thumbnail: bytes | None = None


@dataclass
class KindReport:
    """The outcome for one kind of data (images, text, audio, tables)."""

    kind: str
    scanned: int = 0  # files (images, audio) or records (text units, table rows)
    kept: int = 0
    drops: list[Drop] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)  # e.g. {"encoding": 3, "nfc": 2}
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Dropped items per reason code."""
        out: dict[str, int] = {}
        for d in self.drops:
            out[d.reason] = out.get(d.reason, 0) + 1
        return out

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "scanned": self.scanned, "kept": self.kept, "dropped": self.counts(),
                "repaired": dict(self.repaired), "notes": list(self.notes)}


def list_files(root: Path) -> list[Path]:
    """Every non-hidden file under ``root`` (or ``root`` itself), sorted: the order decides which
    of two duplicates is kept (the first)."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and not any(
        part.startswith(".") for part in p.relative_to(root).parts))


def link_or_copy(src: Path, dst: Path) -> str:
    """Put ``src``'s bytes at ``dst`` by a hard link, else a copy; returns "link" or "copy"."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
        return "link"
    except OSError:
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
        return "copy"


def check_out_dir(src: Path, out: Path) -> None:
    """Refuse a missing SRC, an OUT inside SRC (or SRC inside OUT), and an OUT that already has files."""
    if not src.exists():
        raise BadInputError(f"SRC {src} does not exist; give a folder or file to clean")
    src_r, out_r = src.resolve(), out.resolve()
    if out_r == src_r or src_r in out_r.parents or out_r in src_r.parents:
        raise BadInputError(f"--out {out} overlaps SRC {src}; give a folder outside it (SRC is never changed)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInputError(f"--out {out} already exists and is not an empty folder; choose a new one")
