"""2-D mixtures of Gaussians for mode-collapse benchmarks (the PacGAN protocol, Lin et al. 2018):
`ring`: 8 Gaussians on the unit circle, std 0.01; `grid`: 25 Gaussians at {-4,-2,0,2,4}^2, std 0.05."""

from __future__ import annotations

import numpy as np

from .base import Dataset, check_split

TRAIN_SIZE, TEST_SIZE = 100_000, 2_500
SPLIT_SEEDS = {"train": 0, "test": 1}


def ring_modes() -> np.ndarray:
    angles = 2 * np.pi * np.arange(8) / 8
    return np.stack([np.cos(angles), np.sin(angles)], 1)  # (8, 2)


def grid_modes() -> np.ndarray:
    g = np.arange(-4, 5, 2, dtype=np.float64)
    return np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)  # (25, 2)


TOYS = {"ring": (ring_modes, 0.01), "grid": (grid_modes, 0.05)}


def make_toy(name: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points (float32, (n, 2)) drawn uniformly over the modes, and each point's mode."""
    modes_fn, std = TOYS[name]
    centers = modes_fn()
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(centers), n)
    x = centers[y] + std * rng.standard_normal((n, 2))
    return x.astype(np.float32), y.astype(np.int64)


def toy_loader(name: str):
    def load(split: str, **_) -> Dataset:
        check_split(split)
        parts = ["train", "test"] if split == "all" else [split]
        xs, ys = zip(*(make_toy(name, TRAIN_SIZE if p == "train" else TEST_SIZE, SPLIT_SEEDS[p]) for p in parts))
        modes_fn, std = TOYS[name]
        centers = modes_fn()
        return Dataset(np.concatenate(xs), "table", name, y=np.concatenate(ys),
                       classes=[f"mode {i}" for i in range(len(centers))], source=f"aegan toy2d {name!r}",
                       extra={"modes": centers.tolist(), "mode_std": std, "columns": ["x", "y"]})
    return load
