"""A `.npy` file read row by row, for data larger than memory.

`NpyRows` is a `LazyRows` (data/lazy.py): array-like, but it holds nothing: each read is an `os.pread` of the rows asked for (contiguous runs in one call). Unlike a
memory map, rows read do not stay resident, so a process training on a file several times
its memory size keeps only the batches in flight. It pickles as the path and the row list, so
DataLoader workers open their own file handle.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from .lazy import LazyRows

# --stream auto reads a .npy lazily from this size on (bytes on disk)
STREAM_BYTES = 1 << 30


def read_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, offset of the data) of a .npy file, without reading the data."""
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read = {(1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0,
                    (3, 0): np.lib.format.read_array_header_2_0}.get(version)  # 3.0: 2.0 with a UTF-8 header
            if read is None:
                raise ValueError(f"format version {version} is not read lazily")
            shape, fortran, dtype = read(f)
        except ValueError as e:
            raise DataError(f"{path}: not a readable .npy file ({e}); expected an array saved by numpy.save") from None
        offset = f.tell()
    if not dtype.hasobject and path.stat().st_size < offset + int(np.prod(shape)) * dtype.itemsize:
        raise DataError(f"{path}: the file is shorter than its header says ({tuple(shape)} {dtype}); it is truncated")
    return tuple(shape), fortran, dtype, offset


class NpyRows(LazyRows):
    """Rows `rows` (None: all) of the C-ordered array in a .npy file, each example given the
    layout `example_shape`; `channels_last` examples are stored (H, W, C) and read as (C, H, W)."""

    def __init__(self, path: str | Path, offset: int, dtype: np.dtype, file_shape: tuple[int, ...],
                 example_shape: tuple[int, ...], channels_last: bool = False, rows: np.ndarray | None = None):
        self.path, self.offset, self.dtype = str(path), int(offset), np.dtype(dtype)
        self.file_shape, self.example_shape = tuple(file_shape), tuple(example_shape)
        self.channels_last = channels_last
        self.rows = rows
        self.row_bytes = int(np.prod(file_shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fd: tuple[int, int] | None = None  # (pid, fd): a forked worker opens its own

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_fd"} | {"_fd": None}

    @property
    def nbytes(self) -> int:
        return len(self) * self.row_bytes

    def _source_len(self) -> int:
        return self.file_shape[0]

    def _with_rows(self, rows: np.ndarray) -> "NpyRows":
        return NpyRows(self.path, self.offset, self.dtype, self.file_shape, self.example_shape,
                       self.channels_last, rows)

    def _file(self) -> int:
        if self._fd is None or self._fd[0] != os.getpid():
            self._fd = (os.getpid(), os.open(self.path, os.O_RDONLY))
        return self._fd[1]

    def _read(self, file_rows: np.ndarray) -> np.ndarray:
        order = np.argsort(file_rows, kind="stable")
        sorted_rows = file_rows[order]
        out = np.empty((len(file_rows), self.row_bytes), dtype=np.uint8)
        fd, i = self._file(), 0
        while i < len(sorted_rows):  # one pread per run of consecutive rows
            j = i + 1
            while j < len(sorted_rows) and sorted_rows[j] == sorted_rows[j - 1] + 1:
                j += 1
            want = (j - i) * self.row_bytes
            buf = os.pread(fd, want, self.offset + int(sorted_rows[i]) * self.row_bytes)
            if len(buf) != want:
                raise DataError(f"{self.path}: the file ends early (truncated while in use?); expected "
                                f"{self.file_shape[0]} rows of {self.row_bytes} bytes")
            out[order[i:j]] = np.frombuffer(buf, dtype=np.uint8).reshape(j - i, self.row_bytes)
            i = j
        x = out.view(self.dtype).reshape(len(file_rows), *self.file_shape[1:])
        if self.channels_last:
            x = np.ascontiguousarray(np.moveaxis(x, -1, 1))
        return x.reshape(len(file_rows), *self.example_shape)
