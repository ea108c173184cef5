"""Image folders (PNG/JPEG/...): class subfolders become labels; `train/` and `test/`
subfolders, when present, are the splits; otherwise a fixed 80/20 hold-out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError, UsageError
from .base import Dataset, check_split, holdout_split
from .lazy import LazyRows
from .npy_rows import STREAM_BYTES

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _open(path: Path) -> Image.Image:
    try:
        img = Image.open(path)
        img.load()
        return img
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        why = "empty file" if path.stat().st_size == 0 else (str(e) or type(e).__name__)
        raise DataError(f"{path}: not a readable image ({why}); remove it or replace it with a PNG/JPEG") from None


def _to_array(img: Image.Image, grey: bool, size: tuple[int, int] | None) -> np.ndarray:
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA") and not grey:
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    if img.mode in ("I", "I;16", "F"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode != "F" and a.max() > 255 else 255.0
        img = Image.fromarray(np.clip(a * 255.0 / hi, 0, 255).astype(np.uint8))
    img = img.convert("L" if grey else "RGB")
    if size is not None and img.size != size:
        img = img.resize(size, Image.Resampling.BILINEAR)
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if grey else a.transpose(2, 0, 1)  # (1, H, W) or (3, H, W)


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    """(mode, size) of an image file from its header, without decoding the pixels."""
    try:
        with Image.open(path) as img:
            return img.mode, img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        why = "empty file" if path.stat().st_size == 0 else (str(e) or type(e).__name__)
        raise DataError(f"{path}: not a readable image ({why}); remove it or replace it with a PNG/JPEG") from None


class ImageFiles(LazyRows):
    """Image files decoded on demand, batch by batch, for folders larger than memory: an
    (N, C, H, W) uint8 array-like (data/lazy.py)."""

    dtype = np.dtype(np.uint8)

    def __init__(self, files: list[Path], grey: bool, size: tuple[int, int], rows: np.ndarray | None = None):
        self.files, self.grey, self.size, self.rows = files, grey, size, rows
        self.example_shape = (1 if grey else 3, size[1], size[0])

    def _source_len(self) -> int:
        return len(self.files)

    def _with_rows(self, rows: np.ndarray) -> "ImageFiles":
        return ImageFiles(self.files, self.grey, self.size, rows)

    def _read(self, file_rows: np.ndarray) -> np.ndarray:
        return np.stack([_to_array(_open(self.files[r]), self.grey, self.size) for r in file_rows])


def load_image_folder(folder: Path, split: str, image_size: int | None = None,
                      channels: int | None = None, stream: str = "auto", **_) -> Dataset:
    """With --stream on (auto: when the decoded images would take 1 GiB or more) the images are
    only probed here and decoded batch by batch while training."""
    check_split(split)
    if image_size is not None and image_size < 1:
        raise UsageError(f"--image-size {image_size} must be a positive number of pixels")
    if channels not in (None, 1, 3):
        raise UsageError(f"--channels {channels} is not supported; expected 1 (grey) or 3 (RGB)")
    has_splits = (folder / "train").is_dir() and (folder / "test").is_dir()
    roots = ([folder / "train", folder / "test"] if split == "all" else [folder / split]) if has_splits else [folder]
    files = [p for root in roots for p in _image_files(root)]
    if not files:
        raise DataError(f"{folder}: no image files (PNG/JPEG) found; expected images, "
                        "optionally in one subfolder per class")
    # Class = first folder level below the root(s); files directly in a root have no class.
    rel = [p.relative_to(next(r for r in roots if r in p.parents)) for p in files]
    class_of = [r.parts[0] if len(r.parts) > 1 else None for r in rel]
    labelled = all(c is not None for c in class_of)
    classes = sorted(set(class_of)) if labelled else None
    if stream == "off":
        images = [_open(p) for p in files]
        headers = [(im.mode, im.size) for im in images]
    else:
        images, headers = None, [_header(p) for p in files]
    grey = channels == 1 if channels else all(mode in GREY_MODES for mode, _ in headers)
    size = (image_size, image_size) if image_size else None
    if size is None:
        sizes = {s for _, s in headers}
        if len(sizes) > 1:
            shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:4])
            raise DataError(f"{folder}: images of different sizes ({shown}); "
                            "pass --image-size N to resize them all to N x N")
    lazy = ImageFiles(files, grey, size or headers[0][1])
    if stream == "on" or (stream == "auto" and int(np.prod(lazy.shape)) >= STREAM_BYTES):
        x = lazy
    else:
        x = np.stack([_to_array(im, grey, size) for im in (images or (_open(p) for p in files))])
    y = np.array([classes.index(c) for c in class_of], dtype=np.int64) if labelled else None
    names = [str(p.relative_to(folder)) for p in files]
    ds = Dataset(x, "image", folder.name, y=y, classes=classes, names=names, source=str(folder))
    return ds if has_splits else holdout_split(ds, split)
