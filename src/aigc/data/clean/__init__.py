"""Dataset cleaning: ``clean(src, out)`` reads SRC (never changes it) and writes the kept data to
OUT, with a report of what was dropped and why.

Images, audio and other files are hard-linked into OUT (copied across file systems); text and
tables are written repaired. Kinds are told apart by file suffix (see :mod:`.common`).

    from aigc.data.clean import clean
    result = clean("raw/", "clean/", report="report.html")
    result["kinds"]["images"]["dropped"]   # {"near_duplicate": 3, "blank": 1, ...}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aigc.core.atomic import atomic_write_bytes
from aigc.core.errors import BadInputError
from aigc.data.clean.common import (
    AUDIO_SUFFIXES,
    IMAGE_SUFFIXES,
    TABLE_SUFFIXES,
    TEXT_SUFFIXES,
    KindReport,
    check_out_dir,
    link_or_copy,
    list_files,
)

__all__ = ["Rules", "clean"]


class Rules:
    """Every cleaner's thresholds in one place (each a dataclass with documented defaults)."""

    def __init__(self, *, images: Any = None, text: Any = None, audio: Any = None, tables: Any = None) -> None:
        from aigc.data.clean.audio import AudioRules
        from aigc.data.clean.images import ImageRules
        from aigc.data.clean.tables import TableRules
        from aigc.data.clean.text import TextRules

        self.images = images or ImageRules()
        self.text = text or TextRules()
        self.audio = audio or AudioRules()
        self.tables = tables or TableRules()


def _group(src: Path) -> dict[str, list[tuple[Path, str]]]:
    groups: dict[str, list[tuple[Path, str]]] = {"images": [], "text": [], "audio": [], "tables": [], "other": []}
    for path in list_files(src):
        rel = path.name if src.is_file() else path.relative_to(src).as_posix()
        suffix = path.suffix.lower()
        kind = ("images" if suffix in IMAGE_SUFFIXES else "text" if suffix in TEXT_SUFFIXES else
                "audio" if suffix in AUDIO_SUFFIXES else "tables" if suffix in TABLE_SUFFIXES else "other")
        groups[kind].append((path, rel))
    return groups


def _run(groups: dict[str, list[tuple[Path, str]]], rules: Rules) -> tuple[list[KindReport], list[str], dict[str, str]]:
    """(reports, rel names to link, rel -> new text) over every kind present."""
    reports: list[KindReport] = []
    links: list[str] = [rel for _, rel in groups["other"]]
    written: dict[str, str] = {}
    if groups["images"]:
        from aigc.data.clean.images import clean_images

        report, kept = clean_images(groups["images"], rules.images)
        reports.append(report)
        links += kept
    if groups["audio"]:
        from aigc.data.clean.audio import clean_audio

        report, kept = clean_audio(groups["audio"], rules.audio)
        reports.append(report)
        links += kept
    if groups["text"]:
        from aigc.data.clean.text import clean_texts

        report, texts = clean_texts(groups["text"], rules.text)
        reports.append(report)
        written.update(texts)
    for path, rel in groups["tables"]:
        from aigc.data.clean.tables import clean_table

        report, text = clean_table(path, rel, rules.tables)
        report.kind = f"table {rel}"
        reports.append(report)
        written[rel] = text
    return reports, links, written


def clean(src: str | os.PathLike, out: str | os.PathLike, *, report: str | os.PathLike | None = None,
          rules: Rules | None = None) -> dict[str, Any]:
    """Clean ``src`` (a folder, or one text/table file) into the new folder ``out``.

    Returns ``{"src", "out", "method" ("hard links" / "copies"), "kinds": {kind: summary}, "report"}``.
    Files of unknown kinds are passed through unchanged. ``report`` (an .html path) is written last.
    """
    src, out = Path(src), Path(out)
    check_out_dir(src, out)
    groups = _group(src)
    if not any(groups.values()):
        raise BadInputError(f"SRC {src} has no files to clean")
    reports, links, written = _run(groups, rules or Rules())
    out.mkdir(parents=True, exist_ok=True)
    methods = set()
    base = src.parent if src.is_file() else src
    for rel in links:
        methods.add(link_or_copy(base / rel, out / rel))
    for rel, text in written.items():
        atomic_write_bytes(out / rel, text.encode("utf-8"))
    method = "copies" if "copy" in methods else "hard links" if methods else "rewritten"
    result = {"src": str(src), "out": str(out), "method": method,
              "kinds": {r.kind: r.summary() for r in reports},
              "other_files": len(groups["other"]), "report": str(report) if report else None}
    if report is not None:
        from aigc.data.clean.report import write_report

        write_report(report, str(src), str(out), reports, method)
    return result
