"""Ratings for recommendation: CSV/TSV files and the MovieLens formats, with id maps and item text.

A :class:`Ratings` holds (N,) arrays of user and item *indices*, ratings and optional timestamps,
plus the raw ids behind the indices and item side information (title, genres, free text). Bad rows
(wrong column count, non-numeric or out-of-range rating, a duplicate user-item pair) stop the load
with their line numbers, or with ``skip_bad=True`` are skipped and counted in ``Ratings.skipped``.

MovieLens may not be redistributed: ``movielens-100k`` is read from ``data_dir()/ml-100k`` or
``cache_dir()/data/ml-100k`` and otherwise downloaded from GroupLens (sha256-checked).
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from aigc.core.errors import BadInputError
from aigc.core.paths import cache_dir, data_dir

__all__ = ["MOVIELENS", "Ratings", "load_ratings", "movielens_dir", "read_items_csv", "read_ratings_csv"]

# name -> (folder, zip url, sha256 of the zip, ratings file, items file, rating range)
# sha256 of ml-100k.zip as published next to d2l's SHA1 cd4dcac4241c8a4ad7badc7ca635da8a69dddb83.
MOVIELENS: dict[str, tuple[str, str, str, str, str, tuple[float, float]]] = {
    "movielens-100k": ("ml-100k", "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
                       "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                       "u.data", "u.item", (1.0, 5.0)),
    "movielens-1m": ("ml-1m", "", "", "ratings.dat", "movies.dat", (1.0, 5.0)),
    "movielens-latest-small": ("ml-latest-small", "", "", "ratings.csv", "movies.csv", (0.5, 5.0)),
}
_ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                  "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                  "Romance", "Sci-Fi", "Thriller", "War", "Western")


@dataclass
class Ratings:
    """Explicit (or implicit: all 1) feedback as parallel arrays over integer indices."""

    users: np.ndarray  # (N,) int64 index into user_ids
    items: np.ndarray  # (N,) int64 index into item_ids
    ratings: np.ndarray  # (N,) float64
    user_ids: list[str]
    item_ids: list[str]
    timestamps: np.ndarray | None = None  # (N,) int64 or None
    item_info: dict[str, dict[str, Any]] = field(default_factory=dict)  # raw id -> title/genres/text
    source: str = ""
    skipped: list[str] = field(default_factory=list)  # "line N: why" of rows skipped with skip_bad
    implicit: bool = False

    def __len__(self) -> int:
        return int(self.ratings.shape[0])

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def subset(self, index: np.ndarray) -> Ratings:
        """The rows ``index`` with the same id maps (a split keeps every index meaningful)."""
        ts = None if self.timestamps is None else self.timestamps[index]
        return replace(self, users=self.users[index], items=self.items[index],
                       ratings=self.ratings[index], timestamps=ts, skipped=[])

    def matrix(self):
        """(n_users, n_items) scipy.sparse CSR of the ratings."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.ratings, (self.users, self.items)), shape=(self.n_users, self.n_items))

    def item_text(self, index: int) -> str:
        """Title, genres and description of item ``index`` as one string (for TF-IDF)."""
        info = self.item_info.get(self.item_ids[index], {})
        return " ".join([str(info.get("title", "")), " ".join(info.get("genres", [])),
                         str(info.get("text", ""))]).strip()

    def spec(self) -> dict[str, Any]:
        return {"source": self.source, "ratings": len(self), "users": self.n_users, "items": self.n_items,
                "skipped": len(self.skipped), "implicit": self.implicit}


def _sniff_delimiter(first: str) -> str:
    if "::" in first:
        return "::"
    for d in ("\t", ",", ";", "|"):
        if d in first:
            return d
    return " "


def _split_line(line: str, delimiter: str) -> list[str]:
    if delimiter == " ":
        return line.split()
    if delimiter == "::":
        return line.split("::")
    return next(csv.reader([line], delimiter=delimiter))


_HEADER_NAMES = frozenset({"user", "userid", "item", "itemid", "movie", "movieid", "rating", "score", "stars",
                           "timestamp", "time", "date", "product", "productid", "track", "trackid", "count",
                           "plays", "clicks", "value", "id", "uid", "iid", "u", "i", "r", "t"})


def _is_header(fields: list[str]) -> bool:
    """A first row of column names (``userId,movieId,rating``), never a data row with a bad value:
    one field must be a known column name and none a number."""
    names = [f.strip().lower().replace("_", "").replace(" ", "").replace("-", "") for f in fields]
    return all(not _is_number(f) for f in names if f) and any(f in _HEADER_NAMES for f in names)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _RowCollector:
    """Turns raw rows into index arrays, recording bad rows (line numbers) as it goes."""

    def __init__(self, path: str, rating_range: tuple[float, float] | None, skip_bad: bool) -> None:
        self.path, self.range, self.skip_bad = path, rating_range, skip_bad
        self.uid: dict[str, int] = {}
        self.iid: dict[str, int] = {}
        self.seen: dict[tuple[int, int], int] = {}
        self.rows: list[tuple[int, int, float, int]] = []
        self.bad: list[str] = []
        self.ncols: int | None = None

    def add(self, lineno: int, fields: list[str]) -> None:
        why = self._check(fields)
        if why is None:
            u = self.uid.setdefault(fields[0].strip(), len(self.uid))
            i = self.iid.setdefault(fields[1].strip(), len(self.iid))
            first = self.seen.setdefault((u, i), lineno)
            if first != lineno:
                why = f"duplicate rating of user {fields[0].strip()!r} for item {fields[1].strip()!r} (first on line {first})"
            else:
                r = float(fields[2]) if len(fields) > 2 else 1.0
                t = int(float(fields[3])) if len(fields) > 3 and fields[3].strip() else 0
                self.rows.append((u, i, r, t))
                return
        self.bad.append(f"line {lineno}: {why}")
        if not self.skip_bad:
            raise BadInputError(f"{self.path}: line {lineno}: {why}; fix the row or pass --skip-bad to skip "
                                f"and count bad rows")

    def _check(self, fields: list[str]) -> str | None:
        if self.ncols is None:
            self.ncols = len(fields)
            if self.ncols not in (2, 3, 4):
                self.ncols = None
                return f"{len(fields)} columns; expected user,item[,rating[,timestamp]]"
        if len(fields) != self.ncols:
            return f"{len(fields)} columns, expected {self.ncols} like the first row"
        if not fields[0].strip() or not fields[1].strip():
            return "empty user or item id"
        if len(fields) > 2:
            if not _is_number(fields[2]) or not math.isfinite(float(fields[2])):
                return f"rating {fields[2].strip()!r} is not a number"
            r = float(fields[2])
            if self.range is not None and not self.range[0] <= r <= self.range[1]:
                return f"rating {r:g} outside the range {self.range[0]:g}..{self.range[1]:g}"
        if len(fields) > 3 and fields[3].strip() and not _is_number(fields[3]):
            return f"timestamp {fields[3].strip()!r} is not a number"
        return None

    def build(self, source: str) -> Ratings:
        if not self.rows:
            raise BadInputError(f"{self.path}: no valid rating rows")
        arr = np.array(self.rows, dtype=np.float64)
        ts = arr[:, 3].astype(np.int64) if self.ncols == 4 else None
        return Ratings(users=arr[:, 0].astype(np.int64), items=arr[:, 1].astype(np.int64), ratings=arr[:, 2],
                       user_ids=list(self.uid), item_ids=list(self.iid), timestamps=ts, source=source,
                       skipped=self.bad, implicit=self.ncols == 2)


def read_ratings_csv(path: str | Path, *, delimiter: str | None = None, skip_bad: bool = False,
                     rating_range: tuple[float, float] | None = None, encoding: str = "utf-8",
                     source: str | None = None) -> Ratings:
    """Read ``user,item[,rating[,timestamp]]`` rows (header or not; ``,`` ``\\t`` ``;`` ``|`` ``::`` or
    spaces, sniffed from the first line). Two columns mean implicit feedback (rating 1)."""
    path = Path(path)
    try:
        text = path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise BadInputError(f"ratings file {str(path)!r} not found") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise BadInputError(f"{path}: cannot read as {encoding} text ({exc})") from exc
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    delim = delimiter or _sniff_delimiter(first)
    col = _RowCollector(str(path), rating_range, skip_bad)
    header_done = False
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = _split_line(line, delim)
        if not header_done:
            header_done = True
            if _is_header(fields):
                continue
        col.add(lineno, fields)
    return col.build(source or f"csv:{path}")


def read_items_csv(path: str | Path, *, delimiter: str | None = None,
                   encoding: str = "utf-8") -> dict[str, dict[str, Any]]:
    """Item side information: ``item,title[,genres[,description]]`` with a header; genres split on ``|``."""
    path = Path(path)
    try:
        text = path.read_text(encoding=encoding)
    except (FileNotFoundError, UnicodeDecodeError, OSError) as exc:
        raise BadInputError(f"items file {str(path)!r}: cannot read ({exc})") from exc
    first = text.splitlines()[0] if text else ""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter or _sniff_delimiter(first))
    rows = list(reader)
    out: dict[str, dict[str, Any]] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < 2:
            raise BadInputError(f"{path}: line {lineno}: expected item,title[,genres[,description]]")
        genres = [g for g in (row[2].split("|") if len(row) > 2 else []) if g and g != "(no genres listed)"]
        out[row[0].strip()] = {"title": row[1], "genres": genres, "text": row[3] if len(row) > 3 else ""}
    return out


def movielens_dir(name: str, *, download: bool = True) -> Path:
    """The folder of a MovieLens set in the data roots (``AIGC_DATA_DIR``, else the cache, else the
    shared development data), else (100k only) downloaded from GroupLens into the cache, sha256-checked."""
    if name not in MOVIELENS:
        raise BadInputError(f"unknown MovieLens set {name!r}; choose one of {sorted(MOVIELENS)}")
    folder, url, sha, ratings_file, _, _ = MOVIELENS[name]
    root = data_dir(folder)
    if (root / folder / ratings_file).is_file():
        return root / folder
    if not (download and url):
        raise BadInputError(f"{name}: {ratings_file} not found in {root / folder}; put the GroupLens files "
                            f"there or set AIGC_DATA_DIR to the folder that holds {folder}/")
    from aigc.data.download import download as fetch

    root = cache_dir() / "data"
    archive = fetch(url, root / f"{folder}.zip", sha)
    _extract(archive, root, folder)
    return root / folder


def _extract(archive: Path, root: Path, folder: str) -> None:
    """Extract only ``folder/<plain name>`` members (no absolute paths, no ``..``)."""
    from aigc.core.atomic import atomic_write_bytes

    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            parts = Path(info.filename).parts
            if info.is_dir() or len(parts) != 2 or parts[0] != folder or parts[1] in ("", ".", ".."):
                continue
            atomic_write_bytes(root / folder / parts[1], zf.read(info))


def _ml100k_items(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="latin-1").splitlines():
        f = line.split("|")
        if len(f) >= 24:
            genres = [g for g, flag in zip(_ML100K_GENRES, f[5:24]) if flag == "1"]
            out[f[0]] = {"title": f[1], "genres": genres, "text": ""}
    return out


def _ml1m_items(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="latin-1").splitlines():
            f = line.split("::")
            if len(f) == 3:
                out[f[0]] = {"title": f[1], "genres": f[2].split("|"), "text": ""}
    return out


def _load_movielens(name: str, skip_bad: bool) -> Ratings:
    _, _, _, ratings_file, items_file, rng = MOVIELENS[name]
    root = movielens_dir(name)
    enc = "utf-8" if name == "movielens-latest-small" else "latin-1"
    data = read_ratings_csv(root / ratings_file, skip_bad=skip_bad, rating_range=rng, encoding=enc, source=name)
    items = root / items_file
    if name == "movielens-100k":
        data.item_info = _ml100k_items(items)
    elif name == "movielens-1m":
        data.item_info = _ml1m_items(items)
    elif items.is_file():
        data.item_info = read_items_csv(items)
    return data


def load_ratings(spec: str, *, skip_bad: bool = False, items: str | None = None,
                 rating_range: tuple[float, float] | None = None) -> Ratings:
    """``movielens-100k`` | ``movielens-1m`` | ``movielens-latest-small`` | ``csv:PATH`` (any delimiter;
    ``items`` names an optional ``item,title,genres,description`` CSV)."""
    if spec in ("ml-100k", "ml-1m", "ml-latest-small"):
        spec = "movielens-" + spec[3:]
    if spec in MOVIELENS:
        data = _load_movielens(spec, skip_bad)
    elif spec.startswith("csv:"):
        data = read_ratings_csv(spec[4:], skip_bad=skip_bad, rating_range=rating_range)
    else:
        raise BadInputError(f"unknown ratings source {spec!r}; use movielens-100k, movielens-1m, "
                            f"movielens-latest-small or csv:PATH")
    if items:
        data.item_info = {**data.item_info, **read_items_csv(items)}
    return data
