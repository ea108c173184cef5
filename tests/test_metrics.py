"""Sample and representation metrics against hand values and naive reference implementations."""

import math

import numpy as np
import pytest
from scipy import linalg

from aegan import metrics
from aegan.metrics.prdc import knn_radii

rng = np.random.default_rng(0)


def _reference_frechet(mu1, s1, mu2, s2):
    """The textbook formula with a matrix square root (as pytorch-fid computes it)."""
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_distance_closed_forms_and_reference():
    # 1-D: (m1 - m2)^2 + (sd1 - sd2)^2
    assert metrics.frechet_distance([1.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(4 + 1)
    for _ in range(3):
        a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
        s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
        mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
        assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_reference_frechet(mu1, s1, mu2, s2),
                                                                           rel=1e-6)
    f = rng.normal(size=(500, 8))
    assert abs(metrics.fcd(f, f)) < 1e-8
    assert metrics.fcd(f, f + 1.0) == pytest.approx(8.0, rel=1e-6)  # a shift of 1 in each of 8 dims


def _naive_mmd2(x, y):
    k = lambda a, b: (a @ b / len(a) + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_mmd_and_near_zero_for_one_distribution():
    x, y = rng.normal(size=(12, 3)), rng.normal(1.0, 1.0, size=(9, 3))
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(_naive_mmd2(x, y), rel=1e-9)
    a, b = rng.normal(size=(400, 4)), rng.normal(size=(400, 4))
    same, spread = metrics.kid(a, b, subsets=20, subset_size=200)
    far, _ = metrics.kid(a, b + 2.0, subsets=20, subset_size=200)
    assert abs(same) < 3 * spread + 1e-3 and far > 100 * max(abs(same), 1e-4)


def _naive_prdc(real, fake, k):
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=-1)
    d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
    d_rf = np.linalg.norm(real[:, None] - fake[None], axis=-1)  # (real, fake)
    r_real = np.sort(d_rr, 1)[:, k]
    r_fake = np.sort(d_ff, 1)[:, k]
    return {"precision": (d_rf < r_real[:, None]).any(0).mean(), "recall": (d_rf < r_fake[None, :]).any(1).mean(),
            "density": (d_rf < r_real[:, None]).sum(0).mean() / k, "coverage": (d_rf.min(1) < r_real).mean()}


def test_precision_recall_density_coverage_match_the_reference_and_chunking():
    real, fake = rng.normal(size=(150, 5)), rng.normal(0.5, 1.2, size=(120, 5))
    ref3, ref5 = _naive_prdc(real, fake, 3), _naive_prdc(real, fake, 5)
    pr, dc = metrics.precision_recall(real, fake), metrics.density_coverage(real, fake)
    for name, got in {**pr, **dc}.items():
        want = (ref3 if name in ("precision", "recall") else ref5)[name]
        assert got == pytest.approx(want, abs=1e-12), name
    np.testing.assert_allclose(knn_radii(real, 3, chunk=7), knn_radii(real, 3))


def test_precision_recall_extremes():
    real = rng.normal(size=(200, 2))
    half = real[real[:, 0] > 0]  # a generator that covers half of the data, faithfully
    pr = metrics.precision_recall(real, half)
    assert pr["precision"] == 1.0 and 0.3 < pr["recall"] < 0.7
    far = metrics.precision_recall(real, real + 100)
    assert far == {"precision": 0.0, "recall": 0.0}
    assert metrics.density_coverage(real, real + 100) == {"density": 0.0, "coverage": 0.0}


def test_class_coverage_by_hand():
    out = metrics.class_coverage([0, 0, 1, 1], [0, 1, 2, 0, 1, 2], 3)
    assert out["classes_missing"] == [2]
    assert out["class_kl"] == pytest.approx(2 * 0.5 * math.log(0.5 / (1 / 3)), rel=1e-4)
    assert metrics.class_coverage([0, 1, 2], [2, 1, 0], 3)["class_kl"] == pytest.approx(0, abs=1e-9)


def test_probes_and_psnr():
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(int)
    assert metrics.linear_probe_accuracy(x[:150], y[:150], x[150:], y[150:]) > 0.95
    assert metrics.knn_accuracy(x[:150], y[:150], x[150:], y[150:]) > 0.85
    assert metrics.psnr(np.zeros(10), np.full(10, 0.1)) == pytest.approx(20.0)
    assert metrics.mse(np.zeros(4), np.ones(4)) == 1.0


def test_kid_in_evaluate_does_not_depend_on_the_feature_scale():
    from aegan.evaluation import sample_metrics
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(400, 8)), rng.normal(0.5, 1.0, size=(400, 8))
    base = sample_metrics(real, fake)
    scaled = sample_metrics(real * 50 + 3, fake * 50 + 3)  # ReLU features of another network's scale
    assert base["kid"] > 0.05 and scaled["kid"] == pytest.approx(base["kid"], rel=1e-9)
    assert scaled["fcd"] == pytest.approx(base["fcd"] * 2500, rel=1e-6)  # FCD keeps the features' units


def test_kid_in_evaluate_is_not_swamped_by_a_feature_that_rarely_fires():
    # a ReLU unit almost silent on real images (spread 1e-6) and a little less so on the samples: scaled
    # per feature it became values of about 1e3 that swamped the kernel, so that KID could no longer tell
    # a draw of the real distribution from a shifted one
    from aegan.evaluation import sample_metrics, standardise
    rng = np.random.default_rng(0)
    real, same, shifted = rng.normal(size=(400, 8)), rng.normal(size=(400, 8)), rng.normal(0.5, 1.0, size=(400, 8))
    real = np.c_[real, 1e-6 * rng.normal(size=400)]
    same, shifted = (np.c_[a, 1e-3 * rng.normal(size=400)] for a in (same, shifted))
    assert max(np.abs(z).max() for z in standardise(real, same, shifted)) < 10  # 5 sd of N(0, 1), with margin
    near, far = sample_metrics(real, same)["kid"], sample_metrics(real, shifted)["kid"]
    assert far > 10 * abs(near)
