"""scikit-learn-style wrappers: AutoencoderTransformer, GAN and AnomalyDetector. `__init__` only stores its arguments; fitted attributes end
in `_`; `fit` returns self; works in a Pipeline and with sklearn.base.clone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .anomaly import DEFAULT_CONTAMINATION, DEFAULT_SCORE, Scoring, default_model, default_train, fit_scoring
from .config import DataConfig, GANConfig, ModelConfig, RunConfig, TrainConfig
from .data import Dataset
from .data.arrays import as_examples
from .data.base import as_labels
from .errors import UsageError
from .runs.recipe import check_one_batch
from .runs.gan import fresh_seed
from .runs.registry import fit


def _seed(random_state) -> int:
    """scikit-learn's random_state: a fixed seed, or None for a fresh one each fit."""
    return fresh_seed() % 2**31 if random_state is None else int(random_state)


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Learn codes with an autoencoder of the aegan family.

    X is a table (n_samples, n_features) or images (n, H, W) / (n, C, H, W); uint8 images are
    pixels 0-255. `transform` gives codes, `inverse_transform` decodes them back to X's units,
    `score_samples` gives the reconstruction error per sample (higher = more anomalous, like
    PyOD's decision_function; note scikit-learn's own detectors use the opposite sign).
    """

    def __init__(self, family="ae", arch="mlp", code_dim=None, hidden=None, conv_channels=(32, 64, 128),
                 epochs=10, batch_size=128, lr=1e-3, weight_decay=0.0, val_split=0.0, patience=0,
                 normalize="auto", output="auto", noise="gaussian", noise_level=0.2, sparsity=1e-3, beta=1.0,
                 likelihood="gaussian", random_state=None, verbose=False):
        self.family = family
        self.arch = arch
        self.code_dim = code_dim
        self.hidden = hidden
        self.conv_channels = conv_channels
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.val_split = val_split
        self.patience = patience
        self.normalize = normalize
        self.output = output
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.beta = beta
        self.likelihood = likelihood
        self.random_state = random_state
        self.verbose = verbose

    def _config(self) -> RunConfig:
        params = self.get_params()

        def pick(cls):
            return {f.name: params[f.name] for f in dataclasses.fields(cls) if f.name in params}
        model = ModelConfig(**{**pick(ModelConfig), "hidden": None if self.hidden is None else tuple(self.hidden),
                               "conv_channels": tuple(self.conv_channels)})
        seed = _seed(self.random_state)
        train = dataclasses.replace(TrainConfig(**pick(TrainConfig)), seed=seed)
        return RunConfig(data=DataConfig(data="<array>", normalize=self.normalize), model=model, train=train)

    def fit(self, X, y=None):
        x, kind = as_examples(np.asarray(X), "X")
        config = self._config()
        check_one_batch(len(x), config.train, "batch_size")
        self.run_ = fit(Dataset(x, kind, "array", source="X"), config, progress=self.verbose)
        self.n_features_in_ = int(np.prod(x.shape[1:]))
        self.history_ = self.run_.metrics()
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "run_")
        return self.run_.encode(X)

    @property
    def _n_features_out(self) -> int:
        """The code size: get_feature_names_out gives autoencodertransformer0, 1, ..."""
        return self.run_.code_dim

    def inverse_transform(self, X) -> np.ndarray:
        check_is_fitted(self, "run_")
        return self.run_.decode(X)

    def score_samples(self, X) -> np.ndarray:
        check_is_fitted(self, "run_")
        return self.run_.score(X)

    def save(self, path, overwrite: bool = False) -> None:
        """Write the fitted model as a run folder that `aegan.load` and the CLI read."""
        check_is_fitted(self, "run_")
        self.run_.save(path, overwrite=overwrite)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class GAN(BaseEstimator):
    """A generative adversarial network with scikit-learn conventions: `fit(X[, y])` learns to
    sample like X (y enables `conditional=True`), `sample(n)` returns samples in X's units."""

    def __init__(self, loss="ns", arch=None, z_dim=None, hidden=(256, 256, 256), conv_channels=(64, 128, 256),
                 conditional=False, pack=1, ema=None, n_critic=None, lr_g=None, lr_d=None, epochs=10,
                 batch_size=64, random_state=None, verbose=False):
        self.loss = loss
        self.arch = arch
        self.z_dim = z_dim
        self.hidden = hidden
        self.conv_channels = conv_channels
        self.conditional = conditional
        self.pack = pack
        self.ema = ema
        self.n_critic = n_critic
        self.lr_g = lr_g
        self.lr_d = lr_d
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None):
        params = self.get_params()
        model = GANConfig(**{f.name: params[f.name] for f in dataclasses.fields(GANConfig) if f.name in params})
        model = dataclasses.replace(model, hidden=tuple(self.hidden), conv_channels=tuple(self.conv_channels))
        seed = _seed(self.random_state)
        train = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, seed=seed)
        x, kind = as_examples(np.asarray(X), "X")
        labels, classes = as_labels(np.asarray(y), "y") if y is not None else (None, None)
        ds = Dataset(x, kind, "array", y=labels, classes=classes, source="X")
        cfg = RunConfig(task="gan", data=DataConfig(data="<array>"), model=model, train=train)
        self.run_ = fit(ds, cfg, progress=self.verbose)
        self.history_ = self.run_.metrics()
        self.n_features_in_ = int(np.prod(x.shape[1:]))
        return self

    def sample(self, n: int, label: int | None = None, seed: int | None = None) -> np.ndarray:
        """(n, ...) samples in X's units; `label`: one class index for conditional models; `seed`:
        the same seed gives the same samples, None (the default) fresh ones each call."""
        check_is_fitted(self, "run_")
        return self.run_.sample(n, label, seed)

    def save(self, path, overwrite: bool = False) -> None:
        check_is_fitted(self, "run_")
        self.run_.save(path, overwrite=overwrite)


class AnomalyDetector(BaseEstimator):
    """An autoencoder anomaly detector, fitted on normal data.

    X: a table (n_samples, n_features) or images (n, H, W) / (n, C, H, W), uint8 pixels 0-255.
    family/arch/code_dim/...: the autoencoder (None: the defaults measured best by
    `aegan anomaly bench`, see `default_model`). score: a component of COMPONENTS or several joined by '+'. contamination: the
    expected fraction of anomalies in the training data, which puts `threshold_` at that
    quantile of the training scores (`decision_scores_`; with a kNN score each training example
    is scored without itself as a neighbour); `threshold` overrides it.
    """

    def __init__(self, family=None, arch=None, code_dim=None, hidden=None, conv_channels=None, noise=None,
                 noise_level=None, beta=None, epochs=None, batch_size=None, lr=None, score=DEFAULT_SCORE,
                 contamination=DEFAULT_CONTAMINATION, threshold=None, random_state=None, verbose=False):
        self.family = family
        self.arch = arch
        self.code_dim = code_dim
        self.hidden = hidden
        self.conv_channels = conv_channels
        self.noise = noise
        self.noise_level = noise_level
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.score = score
        self.contamination = contamination
        self.threshold = threshold
        self.random_state = random_state
        self.verbose = verbose

    def _configs(self, kind: str, shape) -> tuple[ModelConfig, TrainConfig]:
        model, train = default_model(kind, shape), default_train(kind)
        given = {k: v for k, v in self.get_params().items() if v is not None}
        for k in ("hidden", "conv_channels"):
            if k in given:
                given[k] = tuple(given[k])
        model = dataclasses.replace(model, **{f.name: given[f.name] for f in dataclasses.fields(ModelConfig)
                                              if f.name in given})
        seed = _seed(self.random_state)
        train = dataclasses.replace(train, seed=seed, **{k: given[k] for k in ("epochs", "batch_size", "lr")
                                                         if k in given})
        return model, train

    def fit(self, X, y=None):
        """Fit on normal examples X (y is ignored: there are no labels in one-class training)."""
        x, kind = as_examples(np.asarray(X), "X")
        ds = Dataset(x, kind, "array", source="X")
        model, train = self._configs(kind, ds.shape)
        self.scoring_ = fit_scoring(ds, model, train, self.score, self.contamination, self.threshold,
                                    DataConfig(data="<array>"), progress=self.verbose, batch_flag="batch_size")
        self._fitted_from(self.scoring_)
        return self

    def _fitted_from(self, scoring: Scoring) -> None:
        self.run_ = scoring.run
        self.decision_scores_ = scoring.train_scores
        self.threshold_ = scoring.threshold
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        self.n_features_in_ = int(np.prod(scoring.run.shape))

    def decision_function(self, X) -> np.ndarray:
        """(N,) anomaly scores: higher = more anomalous."""
        check_is_fitted(self, "scoring_")
        return self.scoring_.scores(X)

    def score_samples(self, X) -> np.ndarray:
        """The same as decision_function (higher = more anomalous, as in PyOD; scikit-learn's own
        detectors use the opposite sign)."""
        return self.decision_function(X)

    def predict(self, X) -> np.ndarray:
        """(N,) 1 for an anomaly (score above threshold_), 0 for normal."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def predict_proba(self, X, method: str = "linear") -> np.ndarray:
        """(N, 2) [P(normal), P(anomaly)] as PyOD computes them: 'linear' scales the score by the
        training scores' range, 'unify' passes its z-score through the Gaussian error function."""
        scores = self.decision_function(X)
        train = self.decision_scores_
        if method == "linear":
            span = train.max() - train.min()
            p = np.clip((scores - train.min()) / (span if span > 0 else 1.0), 0, 1)
        elif method == "unify":
            from scipy.special import erf
            p = np.clip(erf((scores - train.mean()) / ((train.std() or 1.0) * np.sqrt(2))), 0, 1)
        else:
            raise UsageError(f"method {method!r} is unknown; expected linear or unify")
        return np.stack([1 - p, p], axis=1)

    def save(self, path, overwrite: bool = False) -> Path:
        """Write the detector as a run folder (aegan anomaly score reads it)."""
        check_is_fitted(self, "scoring_")
        path = self.run_.save(path, overwrite=overwrite)
        self.scoring_.save(path)
        return path

    @classmethod
    def load(cls, path) -> "AnomalyDetector":
        """A fitted detector from its folder; its parameters are those it was fitted with."""
        scoring = Scoring.load(path)
        m, t = scoring.run.config.model, scoring.run.config.train
        det = cls(family=m.family, arch=m.arch, code_dim=m.code_dim, hidden=m.hidden, conv_channels=m.conv_channels,
                  noise=m.noise, noise_level=m.noise_level, beta=m.beta, epochs=t.epochs, batch_size=t.batch_size,
                  lr=t.lr, score=scoring.score, contamination=scoring.contamination,
                  threshold=scoring.threshold if scoring.threshold_given else None, random_state=t.seed)
        det.scoring_ = scoring
        det._fitted_from(scoring)
        return det

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
