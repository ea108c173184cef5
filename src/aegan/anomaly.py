"""Anomaly detection with an autoencoder trained on normal data only.

`AnomalyDetector` (estimators.py) follows PyOD's conventions (and scikit-learn's for parameters): `fit(X)` on
normal data, `decision_function(X)` = `score_samples(X)` (higher = more anomalous), `predict`
(0 normal / 1 anomaly) against `threshold_`, set at the (1 - contamination) quantile of the
training scores unless a threshold is given, `decision_scores_`, `labels_`, `predict_proba`.

Scores (the COMPONENTS registry), all deterministic:
- recon: the reconstruction error per example (mean squared, model units);
- code-knn / feature-knn: the mean distance to the k nearest training examples among the codes,
  or among the encoder's last hidden activations (each standardised with the training data's
  mean and spread);
- elbo / iwae: the negative VAE bounds (vae models; Monte Carlo with a fixed seed);
- several joined by "+": each a z-score against its own training distribution, summed.
A fitted detector is a run folder like any other (config.json, model.safetensors, ...) plus
anomaly.json (score, threshold, calibration), anomaly_train_scores.npy and, for the kNN scores,
anomaly_<component>.npy (the standardised training embeddings, at most MAX_REFERENCE of them)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .config import (ANOMALY_SCORES, DEFAULT_CONTAMINATION, DEFAULT_SCORE, IWAE_K, KNN_K, DataConfig, ModelConfig,
                     RunConfig, TrainConfig)
from .config_checks import validate
from .data import Dataset
from .errors import DataError, RunError, UsageError, a
from .models import default_sizes
from .runs.autoencoder import AutoencoderRun
from .runs.registry import fit
from .runs.recipe import check_one_batch

ANOMALY_FILE, TRAIN_SCORES_FILE = "anomaly.json", "anomaly_train_scores.npy"
FORMAT = 1
SCORE_SEED = 0


# --- the defaults: the best setting of `aegan anomaly bench` (see BENCHMARKS.md) --------------

def default_model(kind: str, shape: tuple[int, ...]) -> ModelConfig:
    """The autoencoder a detector uses when nothing is given: for images a conv denoising
    autoencoder that learns to fill in half of the pixels masked at random (its encoder's
    features then make the best kNN score on the one-class benchmark), for tables a small MLP
    with a code of about a quarter of the columns."""
    if kind == "image":
        return ModelConfig(family="dae", arch="conv", code_dim=32, noise="mask", noise_level=0.5)
    code_dim, hidden = default_sizes(kind, shape)
    return ModelConfig(family="ae", arch="mlp", code_dim=code_dim, hidden=hidden)


def default_train(kind: str) -> TrainConfig:
    return TrainConfig(epochs=10 if kind == "image" else 100, val_split=0.0, batch_size=128)



# --- scores ----------------------------------------------------------------------------------
# A score is one component or several joined by "+" (e.g. "recon+feature-knn"): each component
# is then a z-score against its own distribution on the training data, and they are summed.

def _seeded(fn):
    """Run fn with the torch RNG at SCORE_SEED, leaving the caller's RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SCORE_SEED)
        return fn()


def _recon(run, x: torch.Tensor) -> np.ndarray:
    return run.map_batches(run.model.score, x).numpy().astype(np.float64)


def _neg_elbo(run, x: torch.Tensor) -> np.ndarray:
    vae = run.require_vae()
    return _seeded(lambda: -run.map_batches(lambda t: vae.elbo(t), x, 256).numpy().astype(np.float64))


def _neg_iwae(run, x: torch.Tensor) -> np.ndarray:
    vae = run.require_vae()
    return _seeded(lambda: -run.map_batches(lambda t: vae.iwae_bound(t, IWAE_K), x, 64).numpy().astype(np.float64))


def _codes(run, x: torch.Tensor) -> np.ndarray:
    return run.map_batches(run.model.encode, x).numpy()


def _features(run, x: torch.Tensor) -> np.ndarray:
    return run.map_batches(run.model.features, x).numpy()


# name -> (direct score fn(run, x) | None, embedding fn(run, x) for a kNN score | None)
_SCORERS = {"recon": (_recon, None), "code-knn": (None, _codes), "feature-knn": (None, _features),
            "elbo": (_neg_elbo, None), "iwae": (_neg_iwae, None)}
# name -> (direct fn, embedding fn, vae only, help): the names and their help are config.py's
COMPONENTS = {name: (*_SCORERS[name], vae, help) for name, (help, vae) in ANOMALY_SCORES.items()}
MAX_REFERENCE = 10000  # kNN scores keep at most this many training examples' embeddings


def score_parts(name: str) -> list[str]:
    return name.split("+")


def check_score(name: str, family: str) -> None:
    parts = score_parts(name)
    bad = [p for p in parts if p not in COMPONENTS]
    if bad or len(set(parts)) != len(parts):
        raise UsageError(f"--score {name!r}: expected one of {', '.join(COMPONENTS)}, or several joined by '+' "
                         "(e.g. recon+feature-knn)")
    vae_only = [p for p in parts if COMPONENTS[p][2]]
    if vae_only and family != "vae":
        raise UsageError(f"--score {name}: {', '.join(vae_only)} needs a vae (--family vae); {a(family)} model "
                         f"scores with {', '.join(k for k, v in COMPONENTS.items() if not v[2])}")


def check_contamination(c: float) -> float:
    if not (isinstance(c, (int, float)) and 0 < c <= 0.5):
        raise UsageError(f"contamination {c!r} must be in (0, 0.5]: the expected fraction of anomalies in the "
                         "training data (e.g. 0.05)")
    return float(c)


def _knn_distance(reference: np.ndarray, query: np.ndarray, exclude_self: bool) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors
    k = min(KNN_K, len(reference) - (1 if exclude_self else 0))
    if k < 1:
        raise DataError("a kNN score needs at least 2 training examples")
    dist = NearestNeighbors(n_neighbors=k + int(exclude_self)).fit(reference).kneighbors(query)[0]
    return (dist[:, 1:] if exclude_self else dist).mean(1)


def component_scores(run, name: str, x: torch.Tensor, state: dict) -> np.ndarray:
    """(N,) raw scores of one component; `state[name]` holds a kNN component's reference set."""
    direct, embed, _, _ = COMPONENTS[name]
    if direct is not None:
        return direct(run, x)
    ref = state[name]
    e = ((embed(run, x) - ref["mean"]) / ref["std"]).astype(np.float32)
    return _knn_distance(ref["reference"], e, exclude_self=False)


# --- the detector state: what anomaly.json holds ---------------------------------------------

class Scoring:
    """A trained autoencoder run with its score, threshold and the training-data state the
    score needs (kNN reference sets, calibration of combined scores). The detector and the CLI
    both use this."""

    def __init__(self, run, score: str, state: dict, calibration: dict, threshold: float, contamination: float,
                 threshold_given: bool, train_scores: np.ndarray):
        self.run, self.score, self.state, self.calibration = run, score, state, calibration
        self.threshold, self.contamination, self.threshold_given = threshold, contamination, threshold_given
        self.train_scores = train_scores

    @classmethod
    def fit(cls, run, ds: Dataset, score: str, contamination: float, threshold: float | None,
            seed: int = 0) -> "Scoring":
        check_score(score, run.config.model.family)
        x = run.to_model(ds)
        n = len(x)
        state, raw = {}, {}
        for name in score_parts(score):
            embed = COMPONENTS[name][1]
            if embed is None:
                raw[name] = component_scores(run, name, x, state)
                continue
            e = embed(run, x)
            mean, std = e.mean(0, dtype=np.float64), e.std(0, dtype=np.float64)
            std = np.where(std > 1e-12, std, 1.0)
            z = ((e - mean) / std).astype(np.float32)  # float32: N x F can be large
            keep = (np.arange(n) if n <= MAX_REFERENCE
                    else np.sort(np.random.default_rng(seed).choice(n, MAX_REFERENCE, replace=False)))
            state[name] = {"mean": mean, "std": std, "reference": z[keep].astype(np.float32)}
            ref = state[name]["reference"]
            # training scores: an example in the reference set is not its own neighbour
            inside = np.zeros(n, bool)
            inside[keep] = True
            s = np.empty(n)
            s[inside] = _knn_distance(ref, z[inside], exclude_self=True)
            if (~inside).any():
                s[~inside] = _knn_distance(ref, z[~inside], exclude_self=False)
            raw[name] = s
        calibration = {}
        if len(raw) > 1:
            calibration = {k: {"mean": float(v.mean()), "std": float(v.std()) or 1.0} for k, v in raw.items()}
        scores = _combine(raw, calibration)
        thr = float(threshold) if threshold is not None else float(np.quantile(scores, 1 - contamination))
        return cls(run, score, state, calibration, thr, contamination, threshold is not None, scores)

    def scores(self, x) -> np.ndarray:
        """(N,) anomaly scores of raw examples (a Dataset or an array in the data's units)."""
        t = self.run.to_model(x)
        return _combine({k: component_scores(self.run, k, t, self.state) for k in score_parts(self.score)},
                        self.calibration)

    def to_dict(self) -> dict:
        s = self.train_scores
        return {"format_version": FORMAT, "score": self.score, "threshold": self.threshold,
                "threshold_from": "given" if self.threshold_given else "contamination",
                "contamination": self.contamination, "calibration": self.calibration,
                "train_scores": {"n": len(s), "min": float(s.min()), "max": float(s.max()), "mean": float(s.mean()),
                                 "std": float(s.std())},
                "knn": {k: {"mean": v["mean"].tolist(), "std": v["std"].tolist(), "file": _ref_file(k),
                            "examples": len(v["reference"])} for k, v in self.state.items()}}

    def save(self, path: Path) -> None:
        for k, v in self.state.items():
            checkpoint.save_npy(path / _ref_file(k), v["reference"])
        checkpoint.save_npy(path / TRAIN_SCORES_FILE, self.train_scores.astype(np.float64))
        checkpoint.write_text(path / ANOMALY_FILE, json.dumps(self.to_dict(), indent=2))  # last: marks it complete

    @classmethod
    def load(cls, path: str | Path) -> "Scoring":
        path = Path(path)
        if not (path / ANOMALY_FILE).is_file():
            if (path / checkpoint.CONFIG).is_file():
                raise RunError(f"{path} is a run folder but not an anomaly detector (no {ANOMALY_FILE}); fit one with "
                               "'aegan anomaly fit --data NORMAL --out RUN'")
            raise RunError(f"no anomaly detector at {path}; fit one with 'aegan anomaly fit --data NORMAL --out {path}'")
        run = AutoencoderRun.open(path)
        d = checkpoint.read_json(path / ANOMALY_FILE)
        try:
            if d.get("format_version", 0) > FORMAT:
                raise RunError(f"{path / ANOMALY_FILE}: format_version {d['format_version']} is newer than this "
                               "aegan understands; upgrade aegan")
            check_score(d["score"], run.config.model.family)
            state = {}
            for k, v in d["knn"].items():
                ref = _load_npy(path / _ref_file(k)).astype(np.float32)
                mean, std = np.asarray(v["mean"], np.float64), np.asarray(v["std"], np.float64)
                if ref.ndim != 2 or ref.shape[1] != len(mean) or len(std) != len(mean):
                    raise RunError(f"{path / _ref_file(k)}: shape {ref.shape} does not match {ANOMALY_FILE}; "
                                   "fit the detector again")
                state[k] = {"mean": mean, "std": std, "reference": ref}
            calibration = {k: {"mean": float(v["mean"]), "std": float(v["std"])} for k, v in d["calibration"].items()}
            train_scores = _load_npy(path / TRAIN_SCORES_FILE).astype(np.float64)
            return cls(run, d["score"], state, calibration, float(d["threshold"]), float(d["contamination"]),
                       d["threshold_from"] == "given", train_scores)
        except (KeyError, TypeError, ValueError, AttributeError, UsageError) as e:
            raise RunError(f"{path / ANOMALY_FILE}: damaged or not written by aegan ({e}); fit the detector again") \
                from None


def _combine(raw: dict[str, np.ndarray], calibration: dict) -> np.ndarray:
    if len(raw) == 1:
        return next(iter(raw.values()))
    return sum((v - calibration[k]["mean"]) / calibration[k]["std"] for k, v in raw.items())


def _ref_file(component: str) -> str:
    return f"anomaly_{component}.npy"


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise RunError(f"{path} is missing; the detector folder is incomplete, fit it again") from None
    except (OSError, ValueError) as e:
        raise RunError(f"{path}: unreadable ({e}); fit the detector again") from None


def fit_scoring(ds: Dataset, model: ModelConfig | None = None, train: TrainConfig | None = None,
                score: str = DEFAULT_SCORE, contamination: float = DEFAULT_CONTAMINATION,
                threshold: float | None = None, data: DataConfig | None = None, out=None, overwrite: bool = False,
                progress: bool = True, split: str = "train", batch_flag: str = "--batch-size") -> Scoring:
    """Train the detector's autoencoder on the normal examples `ds` and calibrate its score;
    with `out`, write the run folder (and anomaly.json) as `aegan anomaly fit` does."""
    check_contamination(contamination)
    model = model or default_model(ds.kind, ds.shape)
    train = train or default_train(ds.kind)
    validate(model, train)
    check_score(score, model.family)
    if threshold is not None and not math.isfinite(threshold):
        raise UsageError(f"threshold {threshold!r} must be a finite number")
    check_one_batch(len(ds), train, batch_flag)
    cfg = RunConfig(data=data or DataConfig(data=ds.name), model=model, train=train, split=split)
    run = fit(ds, cfg, out, overwrite=overwrite, progress=progress)
    scoring = Scoring.fit(run, ds, score, contamination, threshold, seed=train.seed)
    if run.path is not None:
        scoring.save(run.path)
    return scoring
