"""Class coverage of generated samples: the label histogram a classifier gives them, its KL
divergence from the data's histogram, and the classes never produced."""

from __future__ import annotations

import numpy as np


def class_coverage(sample_labels: np.ndarray, data_labels: np.ndarray, num_classes: int,
                   eps: float = 1e-6) -> dict:
    """KL(samples || data) in nats over the classes (eps keeps an empty class finite)."""
    p = np.bincount(np.asarray(sample_labels, np.int64), minlength=num_classes)[:num_classes].astype(np.float64)
    q = np.bincount(np.asarray(data_labels, np.int64), minlength=num_classes)[:num_classes].astype(np.float64)
    p_n, q_n = p / max(1, p.sum()), q / max(1, q.sum())
    kl = float(np.sum(np.where(p_n > 0, p_n * np.log((p_n + eps) / (q_n + eps)), 0.0)))
    return {"class_kl": kl, "classes_missing": [int(c) for c in np.flatnonzero(p == 0)],
            "class_histogram": p_n.round(4).tolist()}
