"""Arrays whose rows are read on demand: the base of a `.npy` read row by row (npy_rows.py) and
an image folder decoded batch by batch (images.py).

A `LazyRows` looks enough like an (N, ...) array for the loaders, the normaliser and the training
feed: `len`, `shape`, `ndim`, `dtype`, indexing by an int, a slice or an index array (which
returns a numpy array), `subset` (another lazy view) and `chunks` (the rows in order, a few tens
of MB at a time). `np.asarray` reads everything: only small data should take that path.
"""

from __future__ import annotations

import numpy as np


class LazyRows:
    dtype: np.dtype
    example_shape: tuple[int, ...]
    rows: np.ndarray | None  # which rows of the source, in order (None: all)

    # --- what a subclass provides ---
    def _source_len(self) -> int:
        raise NotImplementedError

    def _read(self, source_rows: np.ndarray) -> np.ndarray:
        """Rows of the source (any order, repeats allowed) -> (k, *example_shape) array."""
        raise NotImplementedError

    def _with_rows(self, rows: np.ndarray) -> "LazyRows":
        raise NotImplementedError

    # --- the array-like part ---
    def __len__(self) -> int:
        return self._source_len() if self.rows is None else len(self.rows)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.example_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.example_shape)

    def _source_rows(self, idx) -> np.ndarray:
        sel = np.arange(len(self))[idx]
        return sel if self.rows is None else self.rows[sel]

    def subset(self, idx) -> "LazyRows":
        return self._with_rows(np.asarray(self._source_rows(idx), dtype=np.int64))

    def __getitem__(self, idx) -> np.ndarray:
        if isinstance(idx, (int, np.integer)):
            return self[np.array([idx])][0]
        rows = self._source_rows(idx)
        if not len(rows):
            return np.empty((0, *self.example_shape), self.dtype)
        return self._read(rows)

    def __array__(self, dtype=None, copy=None):
        x = self[:]
        return x if dtype is None else x.astype(dtype)

    def chunks(self, max_bytes: int = 1 << 26):
        step = max(1, max_bytes // max(1, int(np.prod(self.example_shape)) * self.dtype.itemsize))
        for start in range(0, len(self), step):
            yield self[start:start + step]
