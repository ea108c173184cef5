"""IDX files (MNIST, Fashion-MNIST, KMNIST ...), plain or gzip-compressed.

Format (LeCun's MNIST page): two zero bytes, a dtype code, the number of dimensions, then
one big-endian uint32 per dimension, then the values big-endian.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .base import Dataset, check_split

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# (split, role) -> file name stems in the MNIST convention
STEMS = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
INSTALL_HINT = ("install Fashion-MNIST with 'sudo apt-get install dataset-fashion-mnist', "
                "or put its four IDX files in a folder and pass --data-dir DIR or set AEGAN_DATA")


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror}); expected a readable IDX file") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: damaged gzip data ({e}); download or copy the file again") from None
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file into a native-endian array."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'}); "
                        "expected 0000 followed by a type code 08-0e")
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated IDX header; download or copy the file again")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    want = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != want:
        raise DataError(f"{path}: IDX header promises {dims} ({want} bytes) but the file holds "
                        f"{len(raw) - header} bytes; the file is truncated or damaged")
    arr = np.frombuffer(raw, dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def find_idx_file(folder: Path, stem: str) -> Path | None:
    for suffix in ("", ".gz"):
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem.replace('-idx', '.idx')}{suffix}"):
            if candidate.is_file():
                return candidate
    return None


def is_idx_folder(folder: Path) -> bool:
    return folder.is_dir() and any(find_idx_file(folder, s) for s in STEMS.values())


def load_idx_folder(folder: str | os.PathLike, split: str, name: str | None = None) -> Dataset:
    """Images and labels of one split of a folder in the MNIST layout."""
    folder = Path(folder)
    check_split(split)
    if split == "all":
        parts = [load_idx_folder(folder, s, name) for s in ("train", "test")]
        y = None if any(p.y is None for p in parts) else np.concatenate([p.y for p in parts])
        return Dataset(np.concatenate([p.x for p in parts]), "image", parts[0].name, y=y,
                       classes=parts[0].classes, source=str(folder))
    img_path = find_idx_file(folder, STEMS[(split, "images")])
    if img_path is None:
        raise DataError(f"{folder}: no {STEMS[(split, 'images')]}[.gz] for --split {split}; {INSTALL_HINT}")
    x = read_idx(img_path)
    if x.ndim == 3:
        x = x[:, None]  # (N, H, W) -> (N, 1, H, W)
    if x.ndim != 4:
        raise DataError(f"{img_path}: IDX images of rank {x.ndim}; expected (N, H, W) or (N, C, H, W)")
    y = None
    lab_path = find_idx_file(folder, STEMS[(split, "labels")])
    if lab_path is not None:
        y = read_idx(lab_path)
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{lab_path}: {y.shape[0] if y.ndim else 0} labels for {len(x)} images "
                            f"in {img_path.name}; the counts must match")
        y = y.astype(np.int64)
    return Dataset(x, "image", name or folder.name, y=y, source=str(img_path))
