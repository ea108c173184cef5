"""CSV tables: numeric columns, the delimiter (comma, semicolon, tab, bar) and an optional header
detected, an optional label column (named, or a column called target/label/class/y, with a note),
and a choice of feature columns."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import numpy as np

from ..errors import DataError, UsageError
from .base import Dataset, as_labels, holdout_split


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


LABEL_NAMES = ("target", "label", "labels", "class", "y")  # taken as the labels when no --label-column is given
DELIMITERS = ",;\t|"
_NOTED: set[str] = set()  # files whose label column was picked by name: said once per process


def _column_index(column: str | int, header: list[str] | None, width: int, source: str, flag: str) -> int:
    if header is not None and str(column).strip() in header:
        return header.index(str(column).strip())
    try:
        i = int(column)
    except (TypeError, ValueError):
        names = ", ".join(header) if header else "none (the file has no header)"
        raise UsageError(f"{flag} {column!r} is not a column of {source}; columns are: {names}") from None
    if not -width <= i < width:
        raise UsageError(f"{flag} {i} is out of range for {source}, which has {width} columns")
    return i % width


def _label_index(label_column, header: list[str] | None, width: int, source: str) -> tuple[int | None, bool]:
    """(the label column or None, whether it was picked by its name rather than given)."""
    if label_column is not None:
        if str(label_column).lower() == "none":
            return None, False
        return _column_index(label_column, header, width, source, "--label-column"), False
    named = [i for i, h in enumerate(header or []) if h.lower() in LABEL_NAMES]
    return (named[0], True) if len(named) == 1 else (None, False)


def _selected(columns: str | None, drop: str | None, header, width: int, label: int | None, source: str) -> list[int]:
    """The feature columns: --columns (in their order), else all but --drop-columns and the label."""
    def parse(text, flag):
        return [_column_index(c, header, width, source, flag) for c in text.split(",") if c.strip()]
    keep = parse(columns, "--columns") if columns else [i for i in range(width)]
    gone = set(parse(drop, "--drop-columns")) if drop else set()
    if label in keep and columns:
        raise UsageError(f"--columns: column {label} is the label column; leave it out of --columns")
    return [i for i in keep if i not in gone and i != label]


def _read_rows(path: Path, source: str) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{source}: not a readable CSV text file ({e}); expected comma-separated numbers") from None
    try:
        dialect = csv.Sniffer().sniff(text[:20000], delimiters=DELIMITERS)
    except csv.Error:
        dialect = csv.excel  # one column, or no clear delimiter: commas
    try:
        return [r for r in csv.reader(text.splitlines(), dialect) if r and any(c.strip() for c in r)]
    except csv.Error as e:
        raise DataError(f"{source}: not a readable CSV text file ({e}); expected comma-separated numbers") from None


def load_csv(path: Path, split: str, label_column: str | int | None = None, columns: str | None = None,
             drop_columns: str | None = None, **_) -> Dataset:
    source = str(path)
    rows = _read_rows(path, source)
    if not rows:
        raise DataError(f"{source}: the file holds no rows; expected a table with one example per row")
    header = None
    if not all(_is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    width = len(header) if header else len(rows[0]) if rows else 0
    if not rows:
        raise DataError(f"{source}: only a header, no data rows; expected one example per row")
    li, picked = _label_index(label_column, header, width, source)
    names = header or [str(i) for i in range(width)]
    keep = _selected(columns, drop_columns, header, width, li, source)
    if not keep:
        raise DataError(f"{source}: no feature columns left (after the label and --columns/--drop-columns); "
                        "expected at least one")
    if picked and source not in _NOTED:
        _NOTED.add(source)
        print(f"aegan: note: {source}: column {names[li]!r} is taken as the class labels, not a feature "
              "(--label-column none keeps it as a feature)", file=sys.stderr)
    values, labels = [], []
    for r, row in enumerate(rows):
        line = r + (2 if header else 1)
        if len(row) != width:
            raise DataError(f"{source}: line {line} has {len(row)} cells, expected {width}; "
                            "every row needs the same columns")
        if li is not None:
            labels.append(row[li].strip())
        out = []
        for c in keep:
            cell = row[c]
            try:
                v = float(cell)
            except ValueError:
                what = "an empty cell" if not cell.strip() else f"{cell.strip()!r}"
                hint = (" (use --label-column for a class column)" if label_column is None else "")
                raise DataError(f"{source}: line {line}, column {names[c]!r} holds {what}; "
                                f"expected a number in every cell{hint}") from None
            if not math.isfinite(v):
                raise DataError(f"{source}: line {line}, column {names[c]!r} holds {cell.strip()!r}; "
                                "expected a finite number (fill or drop that row)")
            out.append(v)
        values.append(out)
    x = np.asarray(values, dtype=np.float32)
    y, classes = (None, None)
    if li is not None:
        y, classes = as_labels(_numeric_or_str(labels), source)
    features = [names[i] for i in keep]
    ds = Dataset(x, "table", path.stem, y=y, classes=classes, source=source, extra={"columns": features})
    return holdout_split(ds, split)


def _numeric_or_str(cells: list[str]) -> np.ndarray:
    if all(_is_number(c) for c in cells):
        arr = np.asarray([float(c) for c in cells])
        if np.all(arr == np.round(arr)) and (arr >= 0).all():
            return arr.astype(np.int64)
    return np.asarray(cells)
