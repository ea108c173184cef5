"""Mode coverage on mixtures with known centres (Srivastava et al. 2017 VEEGAN; Lin et al. 2018
PacGAN): a sample is high quality when it lies within 3 standard deviations of its nearest
mode; a mode is captured when it is the nearest mode of at least one high-quality sample."""

from __future__ import annotations

import numpy as np


def mode_stats(samples: np.ndarray, centers: np.ndarray, std: float) -> dict[str, float]:
    """samples (N, D), centers (K, D) -> modes captured, fraction of high-quality samples, and
    the KL divergence of the high-quality samples' mode histogram from uniform (in nats; 0 is
    perfect balance, log K means everything on one mode)."""
    samples, centers = np.asarray(samples, np.float64), np.asarray(centers, np.float64)
    d2 = ((samples[:, None, :] - centers[None, :, :]) ** 2).sum(-1)  # (N, K)
    nearest = d2.argmin(1)
    hq = np.sqrt(d2[np.arange(len(samples)), nearest]) <= 3 * std
    k = len(centers)
    counts = np.bincount(nearest[hq], minlength=k)
    p = counts / max(1, counts.sum())
    nz = p > 0
    kl = float((p[nz] * np.log(p[nz] * k)).sum()) if counts.sum() else float("nan")
    return {"modes": int((counts > 0).sum()), "num_modes": k, "high_quality": float(hq.mean()),
            "reverse_kl": kl}


def stacked_modes(channel_labels: np.ndarray, num_classes: int) -> dict[str, float]:
    """Stacked data (Metz et al. 2017; Lin et al. 2018): channel_labels (N, C), the class a classifier
    gives each channel of each sample -> modes captured (distinct class tuples, of num_classes ** C)
    and KL(sample histogram || uniform over the modes) in nats."""
    labels = np.asarray(channel_labels, np.int64)
    k = num_classes ** labels.shape[1]
    modes = (labels * num_classes ** np.arange(labels.shape[1])[::-1]).sum(1)
    p = np.bincount(modes, minlength=k) / len(modes)
    nz = p > 0
    return {"modes": int(nz.sum()), "num_modes": k, "kl": float((p[nz] * np.log(p[nz] * k)).sum())}
