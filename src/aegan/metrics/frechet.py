"""Frechet distance between Gaussian fits of two feature sets (Heusel et al. 2017, the
formula behind FID). aegan computes it on its own classifier's features and calls it FCD,
Frechet Classifier Distance: it is not comparable with FID figures from Inception features."""

from __future__ import annotations

import numpy as np


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> mean (D,) and covariance (D, D), in float64."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"expected (N, D) features with N >= 2, got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)).

    tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1 S2, which are
    real and non-negative for covariance matrices (S1 S2 is similar to S1^(1/2) S2 S1^(1/2));
    round-off can leave tiny negative or imaginary parts, which are dropped."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    s1, s2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    eig = np.linalg.eigvals(s1 @ s2)
    tr_sqrt = np.sqrt(np.clip(eig.real, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def fcd(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """Frechet distance between Gaussian fits of two (N, D) feature arrays."""
    return frechet_distance(*gaussian_stats(real_features), *gaussian_stats(fake_features))
