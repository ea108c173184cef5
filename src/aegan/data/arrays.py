"""NumPy files: `.npy` (memory-mapped) and `.npz`.

Rank decides the kind: (N, D) is a table, (N, H, W) and (N, C, H, W) are images, and so is
channels-last (N, H, W, C) with C in {1, 3, 4}. uint8 arrays are pixel values 0-255.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from .base import Dataset, as_labels, check_split, holdout_split
from .npy_rows import STREAM_BYTES, NpyRows, read_header

X_KEYS = ("x", "X", "data", "images", "arr_0")
Y_KEYS = ("y", "Y", "labels", "targets", "arr_1")


def check_finite(x: np.ndarray, source: str) -> None:
    """Reject NaN/inf, reading a memory-mapped array in chunks so it never loads whole."""
    if x.dtype.kind != "f":
        return
    step = max(1, (1 << 24) // max(1, int(np.prod(x.shape[1:]))))
    for start in range(0, len(x), step):
        chunk = np.asarray(x[start:start + step])
        if not np.isfinite(chunk).all():
            bad = start + int(np.flatnonzero((~np.isfinite(chunk.reshape(len(chunk), -1))).any(1))[0])
            raise DataError(f"{source}: row {bad} holds NaN or inf; expected finite numbers "
                            "(drop or fill those rows first)")


def as_examples(x: np.ndarray, source: str) -> tuple[np.ndarray, str]:
    """Give an array the (N, C, H, W) / (N, D) layout and say which kind it is."""
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: arrays of dtype {x.dtype} cannot be training data; "
                        "expected numbers (uint8 pixels, ints or floats)")
    if x.dtype.kind == "b":
        x = x.astype(np.uint8)
    if x.ndim == 2:
        return x, "table"
    if x.ndim == 3:
        return x[:, None], "image"
    if x.ndim == 4:
        if x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
            x = np.ascontiguousarray(np.moveaxis(x, -1, 1))  # channels-last -> channels-first
        return x, "image"
    raise DataError(f"{source}: array of shape {x.shape} (rank {x.ndim}); expected (N, D) for a table, "
                    "(N, H, W) or (N, C, H, W) for images")


def _dataset(x, y, source: str, name: str) -> Dataset:
    x, kind = as_examples(x, source)
    check_finite(x, source)
    classes = None
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(x):
            raise DataError(f"{source}: {len(y)} labels for {len(x)} rows; the counts must match")
        y, classes = as_labels(y, source)
    return Dataset(x, kind, name, y=y, classes=classes, source=source)


def _pickle_msg(e: Exception) -> str:
    text = str(e)
    if "pickle" in text or "object" in text.lower():
        return "object arrays (pickled Python objects) are refused"
    return text


STREAM_CHOICES = ("auto", "on", "off")


def example_layout(shape: tuple[int, ...], source: str) -> tuple[tuple[int, ...], str, bool]:
    """(shape of one example, kind, stored channels-last?) of an array of `shape`, by the rules
    of `as_examples`."""
    if len(shape) == 2:
        return shape[1:], "table", False
    if len(shape) == 3:
        return (1, *shape[1:]), "image", False
    if len(shape) == 4:
        if shape[-1] in (1, 3, 4) and shape[1] not in (1, 3, 4):
            return (shape[3], shape[1], shape[2]), "image", True
        return shape[1:], "image", False
    raise DataError(f"{source}: array of shape {shape} (rank {len(shape)}); expected (N, D) for a table, "
                    "(N, H, W) or (N, C, H, W) for images")


def _lazy_npy(path: Path) -> Dataset:
    """A .npy read row by row from disk (NpyRows): nothing of it is loaded here."""
    shape, fortran, dtype, offset = read_header(path)
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise DataError(f"{path}: arrays of dtype {dtype} cannot be training data; expected numbers")
    if fortran and len(shape) > 1:
        raise DataError(f"{path}: the array is stored in Fortran order, so its rows cannot be read one at a "
                        "time; save it with numpy.save(path, numpy.ascontiguousarray(x)) or use --stream off")
    example, kind, channels_last = example_layout(shape, str(path))
    if dtype.kind == "b":
        dtype = np.dtype(np.uint8)  # the same bytes
    rows = NpyRows(path, offset, dtype, shape, example, channels_last)
    check_finite(rows, str(path))
    return Dataset(rows, kind, path.stem, source=str(path))


def load_npy(path: Path, split: str, stream: str = "auto", **_) -> Dataset:
    """A .npy file: memory-mapped and loaded for training, or with --stream on (auto: files of
    1 GiB and more) read batch by batch from disk while training."""
    if stream == "on" or (stream == "auto" and path.stat().st_size >= STREAM_BYTES):
        return holdout_split(_lazy_npy(path), split)
    read_header(path)  # an empty, cut-short or foreign file: one line saying which
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        msg = _pickle_msg(e)
        raise DataError(f"{path}: cannot read this .npy ({msg}); expected a numeric array") from None
    except OSError as e:
        raise DataError(f"{path}: not a readable .npy file ({e}); expected an array saved by numpy.save") from None
    return holdout_split(_dataset(x, None, str(path), path.stem), split)


def load_npz(path: Path, split: str, **_) -> Dataset:
    check_split(split)
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz file (not a zip archive); expected a file saved by numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        msg = _pickle_msg(e)
        raise DataError(f"{path}: cannot read this .npz ({msg}); expected numeric arrays") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e}); expected a file saved by numpy.savez") from None
    source = str(path)
    if "x_train" in arrays and "x_test" in arrays:  # the Keras layout carries its own split
        parts = ["train", "test"] if split == "all" else [split]
        xs = [arrays[f"x_{p}"] for p in parts]
        ys = [arrays.get(f"y_{p}") for p in parts]
        y = None if any(v is None for v in ys) else np.concatenate(ys)
        return _dataset(np.concatenate(xs), y, source, path.stem)
    x_key = next((k for k in X_KEYS if k in arrays), None)
    if x_key is None:
        if len(arrays) != 1:
            raise DataError(f"{source}: no data array among {sorted(arrays)}; expected one named "
                            f"{' or '.join(X_KEYS[:3])} (labels as y), or x_train/x_test")
        x_key = next(iter(arrays))
    y_key = next((k for k in Y_KEYS if k in arrays and k != x_key), None)
    ds = _dataset(arrays[x_key], arrays.get(y_key) if y_key else None, source, path.stem)
    return holdout_split(ds, split)
