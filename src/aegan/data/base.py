"""The dataset every loader returns, and the deterministic split used by files without one."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import SPLITS
from ..errors import DataError, UsageError

# Files that carry no split of their own are split 80/20 by a fixed permutation, so
# `--split test` always names the same rows of the same file.
HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 0


@dataclass
class Dataset:
    """Rows of raw values with a known shape.

    x: (N, C, H, W) for images, (N, D) for tables; raw dtype (uint8 pixels stay uint8).
    y: (N,) int64 labels or None. names: per-row names (file names), or None.
    """

    x: np.ndarray
    kind: str  # "image" | "table"
    name: str
    y: np.ndarray | None = None
    classes: list[str] | None = None
    names: list[str] | None = None
    source: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        assert self.kind in ("image", "table"), self.kind
        assert self.x.ndim == (4 if self.kind == "image" else 2), self.x.shape
        if len(self.x) == 0:
            raise DataError(f"dataset {self.name!r} is empty (0 rows in {self.source or self.name}); "
                            "expected at least one example")
        if self.y is not None:
            assert len(self.y) == len(self.x), (len(self.y), len(self.x))

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one example: (C, H, W) or (D,)."""
        return tuple(int(s) for s in self.x.shape[1:])

    @property
    def num_classes(self) -> int | None:
        if self.y is None:
            return None
        return len(self.classes) if self.classes else int(self.y.max()) + 1

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, idx: np.ndarray) -> "Dataset":
        return Dataset(
            x=self.x.subset(idx) if hasattr(self.x, "subset") else self.x[idx], kind=self.kind, name=self.name,
            y=None if self.y is None else self.y[idx], classes=self.classes,
            names=None if self.names is None else [self.names[i] for i in idx],
            source=self.source, extra=dict(self.extra),
        )


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise UsageError(f"--split {split!r} is not a split; expected one of {', '.join(SPLITS)}")
    return split


def holdout_split(ds: Dataset, split: str) -> Dataset:
    """Split a file with no split of its own: a fixed 80/20 permutation (seed 0)."""
    check_split(split)
    if split == "all":
        return ds
    n = len(ds)
    if n < 2:
        raise DataError(f"{ds.source}: {n} row cannot be split into train and test; "
                        "use --split all or give more rows")
    perm = np.random.default_rng(HOLDOUT_SEED).permutation(n)
    n_test = max(1, int(round(n * HOLDOUT_FRACTION)))
    idx = np.sort(perm[:n_test] if split == "test" else perm[n_test:])
    part = ds.subset(idx)
    part.extra["rows_of"] = n  # how many rows the whole file has, for messages
    return part


def rows_read(ds: Dataset, split: str) -> str:
    """What part of the data a command read, for its summary line: 'all 500 rows of mine.npy',
    'the test split of digits (359 of 1797 rows)'."""
    if split == "all":
        return f"all {len(ds)} rows of {ds.name}"
    total = ds.extra.get("rows_of")
    return f"the {split} split of {ds.name} ({len(ds)}" + (f" of {total} rows)" if total else " rows)")


def as_labels(values, source: str) -> tuple[np.ndarray, list[str] | None]:
    """Labels as int64 0..K-1. Integer labels are kept; anything else is mapped in sorted order."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        if arr.size and arr.min() < 0:
            raise DataError(f"{source}: labels must be non-negative integers, found {int(arr.min())}")
        return arr.astype(np.int64), None
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)) and (arr >= 0).all():
        return arr.astype(np.int64), None
    classes = sorted({str(v) for v in arr.tolist()})
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[str(v)] for v in arr.tolist()], dtype=np.int64), classes
