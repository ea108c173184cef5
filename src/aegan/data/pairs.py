"""Data for image-to-image translation: two domains of images, A (the input) and B (the output).

Paired (pix2pix): example i of A goes with example i of B; the Dataset holds both in one array,
A's channels then B's, (N, C_A + C_B, H, W), so that splitting, subsampling and batching keep
the pairs together. Unpaired (CycleGAN): the rows of A, then the rows of B, each labelled with
its domain (y = 0 for A, 1 for B). `ds.extra["pairs"]` says which, and how many channels each
side has.

Sources: a folder holding A/ and B/ (paired by file name), an .npz with arrays `a` and `b`
(paired by position), and built-in tasks made from Fashion-MNIST without any download:
`edges` (edge map -> image), `superres` (7x7 -> 28x28), `inpaint` (centre 14x14 hidden -> image),
all paired, and `sneaker-boot` (unpaired, sneakers and ankle boots from disjoint halves of the
training set)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError, UsageError
from .arrays import as_examples, check_finite
from .base import Dataset, check_split, holdout_split

PAIRINGS = ("paired", "unpaired")
SCALE = 4  # superres: 28x28 images from their 7x7 averages
HOLE = (7, 21)  # inpaint: rows and columns [7, 21) hidden


def _fashion(split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST pixels as floats in [0, 1] (N, 1, 28, 28), and labels."""
    from . import load_dataset
    ds = load_dataset("fashion-mnist", "train" if split == "train" else "test", data_dir=data_dir)
    return ds.x.astype(np.float32) / 255.0, ds.y


def edge_map(x: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """1 where the Sobel gradient of the unit-pixel image (scaled to at most about 1 for a
    black-to-white step) exceeds `threshold`, else 0: a line drawing of the garment."""
    t = torch.from_numpy(x)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4
    k = torch.stack([kx, kx.T])[:, None]
    g = F.conv2d(F.pad(t, (1, 1, 1, 1), mode="replicate"), k)
    return (g.pow(2).sum(1, keepdim=True).sqrt() > threshold).float().numpy()


def downsampled(x: np.ndarray) -> np.ndarray:
    """The SCALE x SCALE block means of each image, shown at full size (each value a block)."""
    small = F.avg_pool2d(torch.from_numpy(x), SCALE)
    return F.interpolate(small, scale_factor=SCALE, mode="nearest").numpy()


def masked(x: np.ndarray) -> np.ndarray:
    a = x.copy()
    a[..., HOLE[0]:HOLE[1], HOLE[0]:HOLE[1]] = 0.0
    return a


PAIRED_TASKS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "edges": (edge_map, "edge map of a Fashion-MNIST image -> the image"),
    "superres": (downsampled, "its 7x7 block means (shown at 28x28) -> the 28x28 image"),
    "inpaint": (masked, "the image with its centre 14x14 hidden (black) -> the whole image"),
}
UNPAIRED_TASKS = {"sneaker-boot": (7, 9)}  # Fashion-MNIST classes of A and B
TASK_NAMES = (*PAIRED_TASKS, *UNPAIRED_TASKS)


def is_pair_source(spec: str) -> bool:
    """Whether --data names translation data: a built-in task, a folder with A/ and B/, or an
    .npz holding arrays a and b."""
    if spec in TASK_NAMES:
        return True
    path = Path(spec).expanduser()
    if path.is_dir():
        return (path / "A").is_dir() and (path / "B").is_dir()
    if path.is_file() and path.suffix.lower() == ".npz" and zipfile.is_zipfile(path):
        try:
            with np.load(path, allow_pickle=False) as z:
                return {"a", "b"} <= set(z.files)
        except (OSError, ValueError):
            return False
    return False


def paired(a: np.ndarray, b: np.ndarray, name: str, source: str, **extra) -> Dataset:
    x = np.concatenate([a, b], axis=1)
    return Dataset(x, "image", name, source=source,
                   extra={"pairs": {"paired": True, "a_channels": int(a.shape[1]), "b_channels": int(b.shape[1]),
                                    **extra}})


def unpaired(a: np.ndarray, b: np.ndarray, name: str, source: str, domains: list[str], **extra) -> Dataset:
    y = np.concatenate([np.zeros(len(a), np.int64), np.ones(len(b), np.int64)])
    return Dataset(np.concatenate([a, b]), "image", name, y=y, classes=list(domains), source=source,
                   extra={"pairs": {"paired": False, "a_channels": int(a.shape[1]), "b_channels": int(b.shape[1]),
                                    "domains": list(domains), **extra}})


def load_pairs(spec: str, split: str, pairing: str, data_dir: str | None = None, image_size: int | None = None,
               channels: int | None = None, **_) -> Dataset:
    """Translation data (see the module's docstring); `pairing` "paired" refuses data that
    has no pairs, "unpaired" reads paired data as two unpaired domains."""
    check_split(split)
    if pairing not in PAIRINGS:
        raise UsageError(f"pairing {pairing!r}; expected one of {', '.join(PAIRINGS)}")
    if spec in PAIRED_TASKS:
        if pairing == "unpaired":
            raise UsageError(f"--data {spec} is a paired task; train it with 'aegan train pix2pix'")
        make, _ = PAIRED_TASKS[spec]
        b, _labels = _fashion(split, data_dir)
        return paired(make(b), b, spec, f"fashion-mnist ({spec})", task=spec)
    if spec in UNPAIRED_TASKS:
        if pairing == "paired":
            raise UsageError(f"--data {spec} has no pairs (two classes of different images); train it with "
                             "'aegan train cyclegan'")
        return _class_pair(spec, split, data_dir)
    path = Path(spec).expanduser()
    if not is_pair_source(spec):
        from . import DATASETS
        what = "a dataset of single images, not of pairs" if spec in DATASETS else \
            "no such file or folder" if not path.exists() else "a folder without A/ and B/" if path.is_dir() \
            else "not an .npz holding arrays a and b"
        raise DataError(f"--data {spec}: {what}; translation takes {', '.join(TASK_NAMES)}, a folder holding A/ and "
                        "B/ (images of each side), or an .npz with arrays a and b")
    if path.is_dir():
        a, b, names = _folders(path, image_size, channels)
    else:
        (a, b), names = _npz(path), None
    _same_size(a, b, str(path))
    if pairing == "paired":
        if names is not None:
            a, b = _match(a, b, names, path)
        elif len(a) != len(b):
            raise DataError(f"{path}: a has {len(a)} images and b {len(b)}; pix2pix learns from pairs (a[i] with "
                            "b[i]), so both need as many; for unpaired images use 'aegan train cyclegan'")
        a, b = _common_dtype(a, b)
        return holdout_split(paired(a, b, path.stem if path.is_file() else path.name, str(path)), split)
    a, b = _common_dtype(a, b)
    ds = unpaired(a, b, path.stem if path.is_file() else path.name, str(path), ["A", "B"])
    return holdout_split(ds, split)


def _class_pair(spec: str, split: str, data_dir: str | None) -> Dataset:
    """Two Fashion-MNIST classes; in the training split A comes from its first half and B from
    its second, so that no image has a counterpart on the other side."""
    from . import FASHION_CLASSES
    ca, cb = UNPAIRED_TASKS[spec]
    x, y = _fashion(split, data_dir)
    half = np.arange(len(x)) < len(x) // 2 if split == "train" else np.ones(len(x), bool)
    a = x[(y == ca) & half]
    b = x[(y == cb) & (~half if split == "train" else half)]
    return unpaired(a, b, spec, f"fashion-mnist ({FASHION_CLASSES[ca]} <-> {FASHION_CLASSES[cb]})",
                    [FASHION_CLASSES[ca], FASHION_CLASSES[cb]], task=spec, classes=[ca, cb])


def _folders(path: Path, image_size: int | None, channels: int | None):
    from .images import load_image_folder
    sides = []
    for side in ("A", "B"):
        try:
            ds = load_image_folder(path / side, "all", image_size=image_size, channels=channels, stream="off")
        except DataError as e:
            raise DataError(f"{path / side}: {str(e).split(': ', 1)[-1]}") from None
        sides.append(ds)
    a, b = sides
    return np.asarray(a.x), np.asarray(b.x), (a.names, b.names)


def _npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = [z["a"], z["b"]]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: cannot read arrays a and b ({e}); expected numpy.savez(path, a=..., b=...) "
                        "of numeric images") from None
    out = []
    for key, arr in zip("ab", arrays):
        arr, kind = as_examples(arr, f"{path} ({key})")
        if kind != "image":
            raise DataError(f"{path}: array {key} has shape {arr.shape}; expected images (N, H, W) or (N, C, H, W)")
        check_finite(arr, f"{path} ({key})")
        out.append(arr)
    return out


def _same_size(a: np.ndarray, b: np.ndarray, where: str) -> None:
    if a.shape[1:] != b.shape[1:]:
        sa, sb = "x".join(map(str, a.shape[1:])), "x".join(map(str, b.shape[1:]))
        raise DataError(f"{where}: A images are {sa} (channels x height x width) and B images {sb}; both sides "
                        "need the same size and channels (give --image-size N and --channels 1 or 3 for folders, "
                        "or resize the arrays)")


def _match(a: np.ndarray, b: np.ndarray, names, path: Path):
    """Folder pairs: files of the same name in A/ and B/."""
    na, nb = names
    where_b = {n: i for i, n in enumerate(nb)}
    common = [(i, where_b[n]) for i, n in enumerate(na) if n in where_b]
    if not common:
        raise DataError(f"{path}: no file name appears in both A/ and B/ (e.g. A/{na[0]}, B/{nb[0]}); pix2pix "
                        "learns from pairs of files of the same name; for unpaired folders use 'aegan train "
                        "cyclegan'")
    ia, ib = (np.array(c) for c in zip(*common))
    return a[ia], b[ib]


def _common_dtype(a: np.ndarray, b: np.ndarray):
    """Both sides as uint8, or both as floats in [0, 1]."""
    if a.dtype == np.uint8 and b.dtype == np.uint8:
        return a, b
    return tuple(x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32) for x in (a, b))
