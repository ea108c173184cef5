"""Kernel distance (the KID of Binkowski et al. 2018, on aegan's classifier features): the
unbiased estimate of the squared MMD with the cubic polynomial kernel
k(x, y) = (x.y / D + 1)^3, averaged over random subsets, reported with its spread."""

from __future__ import annotations

import numpy as np


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD between samples x (m, D) and y (n, D): the diagonal terms of the
    within-set kernel matrices are left out."""
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kid(real_features: np.ndarray, fake_features: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of the unbiased MMD^2 over `subsets` random subsets of
    min(subset_size, N) examples from each set (drawn without replacement within a subset)."""
    x, y = np.asarray(real_features, np.float64), np.asarray(fake_features, np.float64)
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError(f"KID needs at least 2 examples in each set, got {len(x)} and {len(y)}")
    rng = np.random.default_rng(seed)
    vals = [mmd2_unbiased(x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)])
            for _ in range(subsets)]
    return float(np.mean(vals)), float(np.std(vals))
