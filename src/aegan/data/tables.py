"""CSV tables: numeric columns, an optional header (detected), an optional label column."""

from __future__ import annotations

import csv
import math
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


def _label_index(label_column: str | int, header: list[str] | None, width: int, source: str) -> int:
    if header is not None and str(label_column) in header:
        return header.index(str(label_column))
    try:
        i = int(label_column)
    except (TypeError, ValueError):
        names = ", ".join(header) if header else "none (the file has no header)"
        raise UsageError(f"--label-column {label_column!r} is not a column of {source}; "
                         f"columns are: {names}") from None
    if not -width <= i < width:
        raise UsageError(f"--label-column {i} is out of range for {source}, which has {width} columns")
    return i % width


def load_csv(path: Path, split: str, label_column: str | int | None = None, **_) -> Dataset:
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{source}: not a readable CSV text file ({e}); expected comma-separated numbers") from None
    if not rows:
        raise DataError(f"{source}: the file holds no rows; expected a table with one example per row")
    header = None
    if not all(_is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    width = len(header) if header else len(rows[0]) if rows else 0
    if not rows:
        raise DataError(f"{source}: only a header, no data rows; expected one example per row")
    li = None if label_column is None else _label_index(label_column, header, width, source)
    names = header or [str(i) for i in range(width)]
    values, labels = [], []
    for r, row in enumerate(rows):
        line = r + (2 if header else 1)
        if len(row) != width:
            raise DataError(f"{source}: line {line} has {len(row)} cells, expected {width}; "
                            "every row needs the same columns")
        out = []
        for c, cell in enumerate(row):
            if c == li:
                labels.append(cell.strip())
                continue
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
    if x.shape[1] == 0:
        raise DataError(f"{source}: no feature columns besides the label; expected at least one")
    y, classes = (None, None)
    if li is not None:
        y, classes = as_labels(_numeric_or_str(labels), source)
    features = [n for i, n in enumerate(names) if i != li]
    ds = Dataset(x, "table", path.stem, y=y, classes=classes, source=source, extra={"columns": features})
    return holdout_split(ds, split)


def _numeric_or_str(cells: list[str]) -> np.ndarray:
    if all(_is_number(c) for c in cells):
        arr = np.asarray([float(c) for c in cells])
        if np.all(arr == np.round(arr)) and (arr >= 0).all():
            return arr.astype(np.int64)
    return np.asarray(cells)
