"""Tables such as ratings CSVs (user, item, rating[, timestamp]): missing values, type errors,
out-of-range ratings and duplicate rows / (user, item) pairs, with pandas.

Every cell is read as text first so a type error is seen as what the file holds (``"five"``), not
as a NaN pandas made. A column is numeric when more than ``numeric_share`` of its filled cells parse
as numbers (default: more than half); its other cells are type errors. The rating column (named ``rating``, else the third)
must lie in ``rating_range``. A row repeating an earlier row, or an earlier (user, item) pair of a
ratings table, is a duplicate (the first is kept).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from aigc.core.errors import BadInputError
from aigc.data.clean.common import Drop, KindReport

__all__ = ["TableRules", "clean_table"]


@dataclass(kw_only=True)
class TableRules:
    rating_range: tuple[float, float] = (0.5, 5.0)
    numeric_share: float = 0.5


def _read(path: Path, rel: str):
    import pandas as pd

    sep = "\t" if path.suffix.lower() == ".tsv" else None
    try:
        frame = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False,
                            engine="python", skip_blank_lines=True)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise BadInputError(f"{rel}: not a readable CSV ({exc}); fix the file or move it out of SRC") from exc
    first = [str(v).strip() for v in frame.iloc[0]] if len(frame) else []
    header = bool(first) and not any(_number(v) for v in first)
    if header:
        frame = frame.iloc[1:].reset_index(drop=True)
        frame.columns = first
    return frame, header, sep or ","


def _number(text: str) -> bool:
    try:
        float(text)
        return text.strip() != ""
    except ValueError:
        return False


def _row_verdict(row: list[str], numeric: list[bool], rating_col: int | None,
                 rules: TableRules) -> tuple[str, str] | None:
    for j, cell in enumerate(row):
        if cell.strip() == "" or cell.strip().lower() in ("na", "nan", "null", "none"):
            return "missing", f"column {j + 1} is empty"
    for j, cell in enumerate(row):
        if numeric[j] and not _number(cell):
            return "type_error", f"column {j + 1} is {cell!r}, not a number"
    if rating_col is not None:
        value = float(row[rating_col])
        lo, hi = rules.rating_range
        if not lo <= value <= hi:
            return "out_of_range", f"rating {value:g} outside [{lo:g}, {hi:g}]"
    return None


def clean_table(path: Path, rel: str, rules: TableRules | None = None) -> tuple[KindReport, str]:
    """Check one CSV/TSV; returns the report (records = data rows) and the cleaned file's text."""
    rules = rules or TableRules()
    frame, header, sep = _read(path, rel)
    rows = [[str(v) for v in r] for r in frame.itertuples(index=False)]
    cols = [str(c).lower() for c in frame.columns] if header else []
    filled = [[r[j] for r in rows if r[j].strip()] for j in range(frame.shape[1])]
    numeric = [bool(f) and sum(map(_number, f)) > rules.numeric_share * len(f) for f in filled]
    ratings = frame.shape[1] >= 3 and (("rating" in cols) or not header)
    rating_col = (cols.index("rating") if "rating" in cols else 2) if ratings else None
    if rating_col is not None and not numeric[rating_col]:
        rating_col = None
    report = KindReport("tables", scanned=len(rows))
    seen_rows: dict[tuple[str, ...], int] = {}
    seen_pairs: dict[tuple[str, str], int] = {}
    kept: list[list[str]] = []
    line0 = 2 if header else 1
    for i, row in enumerate(rows):
        where = f"{rel}:{line0 + i}"
        verdict = _row_verdict(row, numeric, rating_col, rules)
        key, pair = tuple(c.strip() for c in row), (row[0].strip(), row[1].strip()) if len(row) > 1 else None
        if verdict is None and key in seen_rows:
            verdict = ("duplicate", f"same row as line {seen_rows[key]}")
        elif verdict is None and rating_col is not None and pair in seen_pairs:
            verdict = ("duplicate", f"user {pair[0]} / item {pair[1]} already rated on line {seen_pairs[pair]}")
        if verdict is not None:
            report.drops.append(Drop(where, verdict[0], verdict[1]))
            continue
        seen_rows[key] = line0 + i
        if pair is not None:
            seen_pairs[pair] = line0 + i
        kept.append(row)
    report.kept = len(kept)
    return report, _to_csv(kept, list(frame.columns) if header else None, sep)


def _to_csv(rows: list[list[str]], header: list[str] | None, sep: str) -> str:
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()
