"""Metrics as pure functions of arrays: modes (2-D toys), Frechet and kernel distances,
precision/recall and density/coverage, class coverage, representation probes."""

from .classes import class_coverage
from .frechet import fcd, frechet_distance, gaussian_stats
from .kid import kid, mmd2_unbiased
from .modes import mode_stats, stacked_modes
from .prdc import density_coverage, precision_recall
from .representation import knn_accuracy, linear_probe_accuracy, mse, psnr

__all__ = ["class_coverage", "density_coverage", "fcd", "frechet_distance", "gaussian_stats", "kid",
           "knn_accuracy", "linear_probe_accuracy", "mmd2_unbiased", "mode_stats", "mse", "precision_recall",
           "psnr", "stacked_modes"]
