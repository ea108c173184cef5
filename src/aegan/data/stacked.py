"""Stacked Fashion-MNIST (after stacked MNIST, Metz et al. 2017 and the PacGAN protocol): each
example holds three Fashion-MNIST images drawn at random (a fixed seed) as the three channels of one
28x28x3 image, so the data has 10^3 = 1000 modes, one per triple of classes. Its label is the triple,
c0 * 100 + c1 * 10 + c2, and a GAN's mode coverage is counted by classifying each channel
(evaluation.py)."""

from __future__ import annotations

import numpy as np

from .base import Dataset, check_split

SEED = {"train": 0, "test": 1}
SIZE = {"train": 60000, "test": 10000}  # as many stacks as the split has images


def stacked_fashion_mnist(split: str, data_dir: str | None = None, **_) -> Dataset:
    """`split` train: 60,000 stacks of training images; test: 10,000 of test images; all: both."""
    from . import FASHION_CLASSES, load_dataset
    check_split(split)
    if split == "all":
        parts = [stacked_fashion_mnist(s, data_dir) for s in ("train", "test")]
        return Dataset(np.concatenate([p.x for p in parts]), "image", parts[0].name,
                       y=np.concatenate([p.y for p in parts]), classes=parts[0].classes, source=parts[0].source)
    base = load_dataset("fashion-mnist", split, data_dir=data_dir)
    rng = np.random.default_rng(SEED[split])
    idx = rng.integers(0, len(base), size=(SIZE[split], 3))
    x = base.x[idx, 0]  # (N, 3, 28, 28): one image per channel
    y = (base.y[idx] * np.array([100, 10, 1])).sum(1)
    short = [c.split("/")[0].lower() for c in FASHION_CLASSES]
    classes = [f"{short[i // 100]}|{short[i // 10 % 10]}|{short[i % 10]}" for i in range(1000)]
    return Dataset(x, "image", "stacked-fashion-mnist", y=y.astype(np.int64), classes=classes,
                   source=f"three Fashion-MNIST {split} images per example (seed {SEED[split]})")
