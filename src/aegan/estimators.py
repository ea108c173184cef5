"""scikit-learn-style wrappers. `__init__` only stores its arguments; fitted attributes end
in `_`; `fit` returns self; works in a Pipeline and with sklearn.base.clone."""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig
from .data import Dataset
from .data.arrays import as_examples
from .run import fit


class AutoencoderTransformer(TransformerMixin, BaseEstimator):
    """Learn codes with an autoencoder of the aegan family.

    X is a table (n_samples, n_features) or images (n, H, W) / (n, C, H, W); uint8 images are
    pixels 0-255. `transform` gives codes, `inverse_transform` decodes them back to X's units,
    `score_samples` gives the reconstruction error per sample (higher = more anomalous, like
    PyOD's decision_function; note scikit-learn's own detectors use the opposite sign).
    """

    def __init__(self, family="ae", arch="mlp", code_dim=32, hidden=(512, 256), conv_channels=(32, 64, 128),
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
        model = ModelConfig(**{**pick(ModelConfig), "hidden": tuple(self.hidden),
                               "conv_channels": tuple(self.conv_channels)})
        seed = (int(np.random.SeedSequence().entropy % (2**31)) if self.random_state is None
                else int(self.random_state))
        train = dataclasses.replace(TrainConfig(**pick(TrainConfig)), seed=seed)
        return RunConfig(data=DataConfig(data="<array>", normalize=self.normalize), model=model, train=train)

    def fit(self, X, y=None):
        x, kind = as_examples(np.asarray(X), "X")
        self.run_ = fit(Dataset(x, kind, "array", source="X"), self._config(), progress=self.verbose)
        self.n_features_in_ = int(np.prod(x.shape[1:]))
        self.history_ = self.run_.metrics()
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "run_")
        return self.run_.encode(X)

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
        from .config import GANConfig
        from .gan_run import fit_gan
        params = self.get_params()
        model = GANConfig(**{f.name: params[f.name] for f in dataclasses.fields(GANConfig) if f.name in params})
        model = dataclasses.replace(model, hidden=tuple(self.hidden), conv_channels=tuple(self.conv_channels))
        seed = (int(np.random.SeedSequence().entropy % (2**31)) if self.random_state is None
                else int(self.random_state))
        train = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, seed=seed)
        x, kind = as_examples(np.asarray(X), "X")
        labels = None if y is None else np.asarray(y)
        if labels is not None:
            from .data.base import as_labels
            labels, classes = as_labels(labels, "y")
        ds = Dataset(x, kind, "array", y=labels, source="X")
        cfg = RunConfig(task="gan", data=DataConfig(data="<array>"), model=model, train=train)
        self.run_ = fit_gan(ds, cfg, progress=self.verbose)
        self.history_ = self.run_.metrics()
        self.n_features_in_ = int(np.prod(x.shape[1:]))
        return self

    def sample(self, n: int, labels: int | None = None, random_state: int | None = 0) -> np.ndarray:
        """(n, ...) samples in X's units; `labels`: one class index for conditional models."""
        check_is_fitted(self, "run_")
        return self.run_.sample(n, labels, random_state)

    def save(self, path, overwrite: bool = False) -> None:
        check_is_fitted(self, "run_")
        self.run_.save(path, overwrite=overwrite)
