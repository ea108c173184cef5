"""Datasets by name or path: a registry of named sets and one loader per file format.

    load_dataset("fashion-mnist", split="test")
    load_dataset("scans/", image_size=64)          # image folder
    load_dataset("table.csv", label_column="y")
    load_dataset(run.config.data, "test")          # a run's data settings, whole
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..config import DataConfig
from ..errors import DataError, UsageError
from .arrays import STREAM_CHOICES, load_npy, load_npz
from .base import SPLITS, Dataset, check_split, holdout_split, rows_read
from .idx import INSTALL_HINT, is_idx_folder, load_idx_folder
from .images import load_image_folder
from .normalize import Normalizer
from .lazy import LazyRows
from .stacked import stacked_fashion_mnist
from .tables import load_csv
from .toy2d import toy_loader

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SYSTEM_DATA = Path("/usr/share/datasets")


def idx_search_path(name: str, data_dir: str | None = None) -> list[Path]:
    """Where a named IDX dataset is looked for, in order: --data-dir, $AEGAN_DATA, the system."""
    places: list[Path] = []
    for root in (data_dir, os.environ.get("AEGAN_DATA")):
        if root:
            places += [Path(root), Path(root) / name]
    return places + [SYSTEM_DATA / name]


def _named_idx(name: str, classes: list[str] | None) -> Callable[..., Dataset]:
    def load(split: str, data_dir: str | None = None, **_) -> Dataset:
        places = idx_search_path(name, data_dir)
        for folder in places:
            if is_idx_folder(folder):
                ds = load_idx_folder(folder, split, name)
                ds.classes = classes or [str(i) for i in range(10)]
                return ds
        looked = ", ".join(str(p) for p in places)
        raise DataError(f"dataset {name!r} not found (looked in {looked}); {INSTALL_HINT}")
    return load


def _digits(split: str, **_) -> Dataset:
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8), pixels in [0, 1]
    ds = Dataset(x, "image", "digits", y=d.target.astype(np.int64),
                 classes=[str(i) for i in range(10)], source="sklearn.datasets.load_digits")
    return holdout_split(ds, split)


# Named datasets: name -> loader(split, **options)
DATASETS: dict[str, Callable[..., Dataset]] = {
    "fashion-mnist": _named_idx("fashion-mnist", FASHION_CLASSES),
    "mnist": _named_idx("mnist", None),
    "digits": _digits,
    "stacked-fashion-mnist": lambda split, **opts: stacked_fashion_mnist(split, opts.get("data_dir")),
    "ring": toy_loader("ring"),
    "grid": toy_loader("grid"),
}
# File formats: suffix -> loader(path, split, **options)
FILE_LOADERS: dict[str, Callable[..., Dataset]] = {
    ".npy": load_npy,
    ".npz": load_npz,
    ".csv": load_csv,
}


def load_dataset(data: str | DataConfig, split: str = "train", **settings) -> Dataset:
    """A dataset by registered name, or from a file or folder path, with the settings of a
    DataConfig: given whole (a run's `config.data`), or as a name/path and keyword settings
    (data_dir, image_size, channels, label_column, stream: whether a .npy or an image folder is
    read lazily from disk while training, "on", "off", "auto": from 1 GiB on)."""
    if isinstance(data, DataConfig):
        if settings:
            raise TypeError("load_dataset: give the settings in the DataConfig, not beside it")
        dc = data
    else:
        unknown = sorted(set(settings) - {f for f in DataConfig.__dataclass_fields__ if f != "data"})
        if unknown:
            raise TypeError(f"load_dataset: unknown settings {unknown}")
        dc = DataConfig(data=data, **settings)
    return _load(dc, split)


def _load(dc: DataConfig, split: str) -> Dataset:
    check_split(split)
    spec, image_size = dc.data, dc.image_size
    if dc.stream not in STREAM_CHOICES:
        raise UsageError(f"--stream {dc.stream!r}; expected one of {', '.join(STREAM_CHOICES)}")
    opts = dict(data_dir=dc.data_dir, image_size=image_size, channels=dc.channels, label_column=dc.label_column,
                stream=dc.stream, columns=dc.columns, drop_columns=dc.drop_columns)
    if dc.pairs is not None:  # translation data: two domains (data/pairs.py)
        from .pairs import load_pairs
        ds = load_pairs(spec, split, dc.pairs, **opts)
    elif spec in DATASETS:
        ds = DATASETS[spec](split, **opts)
    else:
        path = Path(spec).expanduser()
        if path.is_dir():
            ds = (load_idx_folder(path, split) if is_idx_folder(path)
                  else load_image_folder(path, split, **opts))
        elif path.is_file():
            loader = FILE_LOADERS.get(path.suffix.lower())
            if loader is None:
                raise DataError(f"{path}: unknown file type {path.suffix or '(none)'!r}; expected "
                                f"{', '.join(FILE_LOADERS)}, a folder of images or a folder of IDX files")
            ds = loader(path, split, **opts)
        elif looks_like_path(spec):
            raise DataError(f"no such file or folder: {path} (from {Path.cwd()}); give the path of a .npy, .npz, "
                            ".csv, an image folder or an IDX folder")
        else:
            raise DataError(f"no dataset named {spec!r} and no file or folder at {path}; "
                            f"known names: {', '.join(DATASETS)}; for fashion-mnist: {INSTALL_HINT}")
    if (dc.columns or dc.drop_columns) and "columns" not in ds.extra:
        raise UsageError(f"--columns/--drop-columns select columns of a CSV table; {ds.source} is not one")
    if ds.kind == "image" and image_size and ds.shape[1:] != (image_size, image_size):
        if is_streamed(ds):
            raise DataError(f"{ds.source}: --image-size {image_size} cannot resize a file read lazily from disk "
                            f"(its images are {ds.shape[1]}x{ds.shape[2]}); resize the file first, or use --stream off")
        ds.x = _resize(ds.x, image_size)
    return ds


def looks_like_path(spec: str) -> bool:
    """A --data value meant as a file or folder (a separator or a file suffix), not a dataset name."""
    return any(sep in spec for sep in ("/", "\\")) or Path(spec).suffix.lower() in (*FILE_LOADERS, ".gz") \
        or spec.startswith(("~", "."))


def default_split(spec: str) -> str:
    """The split a command that applies a model reads when --split is not given: every row of a
    file or folder (in order), the test split of a named dataset."""
    return "test" if spec in DATASETS else "all"


def is_streamed(ds: Dataset) -> bool:
    """Whether the dataset's rows are read from disk on demand (a large .npy, an image folder)
    rather than held in memory."""
    return isinstance(ds.x, LazyRows)


def _resize(x: np.ndarray, size: int) -> np.ndarray:
    """Resize (N, C, H, W) images bilinearly (image folders resize as they read)."""
    t = torch.from_numpy(np.asarray(x, dtype=np.float32))
    out = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True).numpy()
    return np.clip(np.rint(out), 0, 255).astype(np.uint8) if x.dtype == np.uint8 else out


__all__ = ["DATASETS", "FILE_LOADERS", "SPLITS", "Dataset", "Normalizer", "default_split", "holdout_split",
           "idx_search_path", "load_dataset", "looks_like_path", "rows_read"]
