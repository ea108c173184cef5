"""How good a representation is, and how close a reconstruction: linear-probe and k-NN
accuracy of codes (fit on train codes, scored on test codes), MSE and PSNR."""

from __future__ import annotations

import numpy as np


def linear_probe_accuracy(train_x, train_y, test_x, test_y, max_iter: int = 1000) -> float:
    """Multinomial logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    clf.fit(np.asarray(train_x).reshape(len(train_x), -1), train_y)
    return float(clf.score(np.asarray(test_x).reshape(len(test_x), -1), test_y))


def knn_accuracy(train_x, train_y, test_x, test_y, k: int = 5) -> float:
    from sklearn.neighbors import KNeighborsClassifier
    clf = KNeighborsClassifier(n_neighbors=k).fit(np.asarray(train_x).reshape(len(train_x), -1), train_y)
    return float(clf.score(np.asarray(test_x).reshape(len(test_x), -1), test_y))


def mse(x, x_hat) -> float:
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    return float(((x - x_hat) ** 2).mean())


def psnr(x, x_hat, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of the mean squared error over the whole set."""
    m = mse(x, x_hat)
    return float("inf") if m == 0 else float(10 * np.log10(data_range ** 2 / m))
