"""A classifier run: the feature network of the sample metrics. Train one on any labelled
image data (`aegan train classifier`), load it back, or use the one shipped for Fashion-MNIST."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from . import __version__, checkpoint
from .config import RunConfig, validate
from .data import Dataset, Normalizer
from .errors import DataError, RunError
from .models.classifier import Classifier
from .run import RunBase, data_info, finishing, open_training, read_run_config, subsample, validation_split
from .train import make_optimizer, train_classifier
from .viz import loss_curves

# feature networks that ship inside the package: feature_nets/<dataset name>/{config.json,
# model.safetensors, info.json}; info.json records the test accuracy and the training command
SHIPPED = Path(__file__).parent / "feature_nets"


class ClassifierRun(RunBase):
    """A trained classifier. `features` is the space FCD, KID, precision/recall live in."""

    @property
    def net(self) -> Classifier:
        return self.module

    @property
    def num_classes(self) -> int:
        return self.net.num_classes

    def features(self, x) -> np.ndarray:
        """(N, feature_dim) penultimate features of examples in the data's own units."""
        return self._map(self.net.features, self.to_model(x)).numpy()

    def predict(self, x) -> np.ndarray:
        return self._map(lambda t: self.net(t).argmax(1), self.to_model(x)).numpy()

    def accuracy(self, x, y) -> float:
        return float((self.predict(x) == np.asarray(y)).mean())

    @classmethod
    def load(cls, path: str | Path, cfg: RunConfig | None = None) -> "ClassifierRun":
        path = Path(path)
        cfg = cfg or read_run_config(path)
        if cfg.task != "classifier":
            raise RunError(f"{path}: a {cfg.task!r} run, not a classifier; train one with "
                           "'aegan train classifier --data DATA --out RUN'")
        info = cfg.data_info
        try:
            normalizer = Normalizer.from_dict(info["normalizer"])
            net = Classifier(cfg.model, tuple(info["shape"]), len(info["classes"]))
        except (KeyError, TypeError, ValueError) as e:
            raise RunError(f"{path}/config.json: cannot rebuild the classifier ({e}); the file is damaged") from None
        checkpoint.load_weights(path / checkpoint.WEIGHTS, net)
        return cls(cfg, net, normalizer, path)


def shipped(name: str) -> ClassifierRun | None:
    """The feature network shipped for dataset `name`, if there is one."""
    folder = SHIPPED / name
    return ClassifierRun.load(folder) if (folder / checkpoint.CONFIG).is_file() else None


def fit_classifier(ds: Dataset, config: RunConfig, out: str | Path | None = None, *, overwrite: bool = False,
                   progress: bool = True, resume: bool = False) -> ClassifierRun:
    """Train the feature-network classifier on labelled image data; the held-out part of the
    training split (val_split) gives the validation error per epoch."""
    tc = config.train
    validate(None, tc)
    if ds.kind != "image" or ds.y is None:
        raise DataError(f"a classifier needs labelled images; {ds.name} is "
                        f"{'unlabelled' if ds.y is None else 'a table'} (use class subfolders or a labelled "
                        "named dataset)")
    torch.manual_seed(tc.seed)
    ds = subsample(ds, tc)
    normalizer = Normalizer.fit(ds.x, ds.kind, "unit")
    net = Classifier(config.model, ds.shape, ds.num_classes)
    x, y = normalizer.transform(ds.x), torch.from_numpy(ds.y).long()
    val, tr = validation_split(len(x), tc)
    config = dataclasses.replace(config, task="classifier", data_info=data_info(ds, normalizer),
                                 aegan_version=__version__)
    run = ClassifierRun(config, net, normalizer, None)
    opt = make_optimizer(net, tc)
    run.path, ctl, history, tb = open_training(out, overwrite, resume, config, net, progress)

    def on_epoch(record: dict) -> None:
        history.append(record)
        if run.path is not None:
            checkpoint.append_jsonl(run.path / checkpoint.METRICS, record)
            checkpoint.save_weights(run.path / checkpoint.WEIGHTS, net)
            loss_curves(history, run.path / "loss.png", title="classifier")
            tb.epoch(record)

    with finishing(run.path, tb):
        train_classifier(net, x[tr], y[tr], x[val] if len(val) else None, y[val] if len(val) else None, tc, opt=opt,
                         on_epoch=on_epoch, progress=progress, control=ctl)
    run.history = history
    if run.path is not None:
        checkpoint.save_weights(run.path / checkpoint.WEIGHTS, net)
    net.eval()
    return run

