"""Text corpora: UTF-8 files or folders, dialogue JSONL, a deterministic split, and LM windows."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from aigc.core.errors import BadInputError
from aigc.text.chat import format_dialogue, validate_turns

__all__ = ["Corpus", "read_text_file", "load_corpus", "split_tokens", "lm_windows", "demo_corpus",
           "TEXT_SUFFIXES"]

TEXT_SUFFIXES = (".txt", ".md", ".rst", ".text", ".jsonl")
ERRORS = ("strict", "replace")


@dataclass
class Corpus:
    """Documents read from ``source``; ``kind`` is ``"text"`` or ``"dialogue"``."""

    source: str
    documents: list[str]
    kind: str = "text"
    files: list[str] = field(default_factory=list)

    def spec(self) -> dict[str, object]:
        """What config.json records about the data (no absolute paths beyond what the user gave)."""
        return {"source": self.source, "kind": self.kind, "files": len(self.files),
                "characters": sum(len(d) for d in self.documents)}


def read_text_file(path: str | os.PathLike, errors: str = "strict") -> str:
    """Decode a UTF-8 file. Invalid bytes raise :class:`BadInputError` naming the file and byte
    offset, or become U+FFFD with ``errors="replace"``."""
    path = Path(path)
    if errors not in ERRORS:
        raise BadInputError(f"errors must be one of {ERRORS}, got {errors!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read text file {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8", errors=errors).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise BadInputError(
            f"{path}: invalid UTF-8 at byte offset {exc.start} (byte 0x{data[exc.start]:02x}); "
            f"convert the file to UTF-8 or pass --errors replace") from exc


def _files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if source.is_dir():
        found = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(source).parts))
        if not found:
            raise BadInputError(f"{source}: folder holds no text files ({', '.join(TEXT_SUFFIXES)})")
        return found
    raise BadInputError(f"--data {str(source)!r} does not exist; give a UTF-8 text file, a folder "
                        f"of them, or a .jsonl dialogue file")


def _read_dialogues(path: Path, errors: str) -> list[str]:
    """Each JSONL line ``{"turns": [{"role": ..., "content": ...}, ...]}`` becomes one document."""
    docs = []
    for n, line in enumerate(read_text_file(path, errors).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        turns = record.get("turns") if isinstance(record, dict) else None
        validate_turns(turns, where=f"{path}:{n}")
        docs.append(format_dialogue(turns))
    if not docs:
        raise BadInputError(f"{path}: no dialogues found")
    return docs


def load_corpus(source: str | os.PathLike, *, errors: str = "strict") -> Corpus:
    """Read a text file, a folder of text files (sorted, recursively), or ``.jsonl`` dialogues."""
    files = _files(Path(source))
    dialogue = [f for f in files if f.suffix.lower() == ".jsonl"]
    if dialogue and len(dialogue) != len(files):
        raise BadInputError(f"{source}: mixes .jsonl dialogues with plain text; train on one kind")
    if dialogue:
        docs = [d for f in files for d in _read_dialogues(f, errors)]
        return Corpus(str(source), docs, "dialogue", [str(f) for f in files])
    docs = [read_text_file(f, errors) for f in files]
    if not any(d.strip() for d in docs):
        raise BadInputError(f"{source}: the text is empty")
    return Corpus(str(source), docs, "text", [str(f) for f in files])


def split_tokens(ids: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic split of a token stream (N,): the first ``1 - val_fraction`` trains, the rest
    validates (as nanoGPT's prepare.py)."""
    if not 0 <= val_fraction < 1:
        raise BadInputError(f"val fraction must be in [0, 1), got {val_fraction}")
    cut = int(len(ids) * (1 - val_fraction))
    return ids[:cut], ids[cut:]


def lm_windows(ids: torch.Tensor, context: int, stride: int = 1) -> torch.Tensor:
    """All (N, context + 1) windows of a token stream every ``stride`` tokens: inputs are
    ``w[:, :-1]`` and targets ``w[:, 1:]``.

    A strided *view* (no copy): with ``stride=1`` every offset is a window, so shuffled batches
    match nanoGPT's random offsets without materialising ``N * context`` tokens.
    """
    if ids.ndim != 1:
        raise ValueError(f"expected a 1-D token stream, got shape {tuple(ids.shape)}")
    if len(ids) < context + 1:
        raise BadInputError(f"the text has {len(ids)} tokens, fewer than one window of --context "
                            f"{context} + 1; use more text or a smaller --context")
    return ids.unfold(0, context + 1, stride)


def demo_corpus() -> str:
    """An English text that ships with CPython: the documentation topics of ``pydoc_data``
    (about 0.5-1 MB), in sorted topic order so it is the same on every run."""
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # pragma: no cover - some distributions strip it
        raise BadInputError("this Python has no pydoc_data module; pass --data FILE instead") from exc
    return "\n\n".join(topics[k].strip() for k in sorted(topics)) + "\n"
