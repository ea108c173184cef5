"""Sample fidelity and diversity from k-nearest-neighbour balls in feature space.

- Improved precision and recall (Kynkaanniemi et al. 2019): precision is the share of fake
  samples inside the union of the real samples' k-NN balls; recall the share of real samples
  inside the fake samples' balls. k = 3, as in the paper.
- Density and coverage (Naeem et al. 2020): density counts how many real balls each fake
  falls in, divided by k (about 1 when fakes are distributed like the reals); coverage is the
  share of real samples whose ball holds at least one fake. k = 5, the paper's choice.
"""

from __future__ import annotations

import numpy as np


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0)


def knn_radii(x: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    """Squared distance from each row of x to its k-th nearest other row."""
    if len(x) <= k:
        raise ValueError(f"need more than k={k} examples, got {len(x)}")
    out = np.empty(len(x))
    for i in range(0, len(x), chunk):
        d = _sq_dists(x[i:i + chunk], x)
        # the k-th smallest excluding the point itself (distance 0 at position 0 after sorting)
        out[i:i + chunk] = np.partition(d, k, axis=1)[:, k]
    return out


def _inside_counts(points: np.ndarray, centers: np.ndarray, radii: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """For each point, how many of the balls (centers, squared radii) contain it."""
    out = np.empty(len(points), np.int64)
    for i in range(0, len(points), chunk):
        out[i:i + chunk] = (_sq_dists(points[i:i + chunk], centers) < radii[None, :]).sum(1)
    return out


def _nearest(points: np.ndarray, others: np.ndarray, chunk: int = 2048) -> np.ndarray:
    out = np.empty(len(points))
    for i in range(0, len(points), chunk):
        out[i:i + chunk] = _sq_dists(points[i:i + chunk], others).min(1)
    return out


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    precision = float((_inside_counts(fake, real, knn_radii(real, k)) > 0).mean())
    recall = float((_inside_counts(real, fake, knn_radii(fake, k)) > 0).mean())
    return {"precision": precision, "recall": recall}


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    radii = knn_radii(real, k)
    density = float(_inside_counts(fake, real, radii).sum() / (k * len(fake)))
    coverage = float((_nearest(real, fake) < radii).mean())
    return {"density": density, "coverage": coverage}
