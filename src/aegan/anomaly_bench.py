"""`aegan anomaly bench`: the one-class protocol of Golan & El-Yaniv (2018) on a labelled
image dataset. For each class: train on that class's training images only, score the whole
test set, AUROC with that class as normal (the other classes are the anomalies). Beside the
detector, in the same run and on the same pixels in [0, 1]: PCA reconstruction error (32
components), the mean distance to the 5 nearest training images in pixel space, Isolation
Forest and a one-class SVM (RBF, gamma 'scale', nu 0.1).
No test label is used for any choice: settings are fixed before the test set is read."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .anomaly import DEFAULT_SCORE, default_train, fit_scoring
from .config import DataConfig, ModelConfig, TrainConfig
from .data import load_dataset
from .errors import DataError, UsageError

PCA_COMPONENTS = 32


def auroc(normal_is_zero: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(normal_is_zero, scores))


def _pixels(ds) -> np.ndarray:
    x = ds.x.reshape(len(ds), -1).astype(np.float32)
    return x / 255.0 if ds.x.dtype == np.uint8 else x


def peer_scores(train_x: np.ndarray, test_x: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Anomaly scores (higher = more anomalous) of the classical detectors on flat pixels."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import NearestNeighbors
    from sklearn.svm import OneClassSVM
    out = {}
    pca = PCA(min(PCA_COMPONENTS, *train_x.shape), random_state=seed).fit(train_x)
    out[f"pca-{PCA_COMPONENTS}"] = ((pca.inverse_transform(pca.transform(test_x)) - test_x) ** 2).mean(1)
    out["knn-pixels"] = NearestNeighbors(n_neighbors=5).fit(train_x).kneighbors(test_x)[0].mean(1)
    out["isolation-forest"] = -IsolationForest(random_state=seed).fit(train_x).score_samples(test_x)
    out["ocsvm"] = -OneClassSVM(gamma="scale", nu=0.1).fit(train_x).score_samples(test_x)
    return out


def one_class_bench(dc: DataConfig | str = "fashion-mnist", classes: list[int] | None = None, seeds: int = 3,
                    model: ModelConfig | None = None, train: TrainConfig | None = None, score: str | None = None,
                    peers: bool = True, progress: bool = True) -> dict:
    """Per-class and mean AUROC (in %) of the detector over `seeds` seeds, and of the peers
    (deterministic but for the Isolation Forest's seed 0), on the labelled data `dc`."""
    dc = dc if isinstance(dc, DataConfig) else DataConfig(data=dc)
    data = dc.data
    train_ds, test_ds = load_dataset(dc, "train"), load_dataset(dc, "test")
    if train_ds.y is None or test_ds.y is None:
        raise DataError(f"{data}: the one-class benchmark needs class labels; this dataset has none")
    k = train_ds.num_classes
    classes = list(range(k)) if classes is None else classes
    bad = [c for c in classes if not 0 <= c < k]
    if bad:
        raise UsageError(f"--classes {','.join(map(str, bad))}: {data} has classes 0 to {k - 1}")
    if seeds < 1:
        raise UsageError(f"--seeds {seeds} must be at least 1")
    score = score or DEFAULT_SCORE
    names = train_ds.classes or [str(c) for c in range(k)]
    test_pixels = _pixels(test_ds) if peers else None
    result = {"data": data, "classes": [names[c] for c in classes], "seeds": seeds, "score": score,
              "detector": {}, "peers": {}, "seconds": {}}
    for c in classes:
        normal = train_ds.subset(np.flatnonzero(train_ds.y == c))
        labels = (test_ds.y != c).astype(int)  # 1 = anomaly
        aucs, t0 = [], time.perf_counter()
        for seed in range(seeds):
            scoring = fit_scoring(normal, model, _with_seed(train, normal.kind, seed), score, 0.05, None,
                                  dc, progress=False)
            aucs.append(100 * auroc(labels, scoring.scores(test_ds)))
        result["detector"][names[c]] = aucs
        result["seconds"].setdefault("detector", 0.0)
        result["seconds"]["detector"] += time.perf_counter() - t0
        line = f"class {c} ({names[c]}): aegan " + " ".join(f"{a:.1f}" for a in aucs)
        if peers:
            t0 = time.perf_counter()
            for name, s in peer_scores(_pixels(normal), test_pixels, 0).items():
                result["peers"].setdefault(name, {})[names[c]] = 100 * auroc(labels, s)
                line += f", {name} {100 * auroc(labels, s):.1f}"
            result["seconds"].setdefault("peers", 0.0)
            result["seconds"]["peers"] += time.perf_counter() - t0
        if progress:
            print(line, flush=True)
    per_seed = np.array([result["detector"][names[c]] for c in classes])  # (classes, seeds)
    means = per_seed.mean(0)
    result["mean"] = {"detector": float(means.mean()), "detector_std": float(means.std()),
                      "detector_per_seed": means.tolist(),
                      **{name: float(np.mean(list(v.values()))) for name, v in result["peers"].items()}}
    return result


def _with_seed(tc: TrainConfig | None, kind: str, seed: int) -> TrainConfig:
    return dataclasses.replace(tc or default_train(kind), seed=seed)


def format_bench(result: dict) -> str:
    peers = list(result["peers"])
    head = f"{'class':<14}{'aegan (mean ± sd over seeds)':>30}" + "".join(f"{p:>18}" for p in peers)
    lines = [head]
    for name, aucs in result["detector"].items():
        lines.append(f"{name:<14}{np.mean(aucs):>22.1f} ± {np.std(aucs):<5.1f}"
                     + "".join(f"{result['peers'][p][name]:>18.1f}" for p in peers))
    m = result["mean"]
    lines.append(f"{'mean':<14}{m['detector']:>22.2f} ± {m['detector_std']:<5.2f}"
                 + "".join(f"{m[p]:>18.2f}" for p in peers))
    lines.append(f"(AUROC %, {result['seeds']} seed(s), score {result['score']}; mean ± sd: the spread of the "
                 "class-mean over seeds)")
    return "\n".join(lines)
