"""The classifier kind of run: the feature network of the sample metrics. Train one on any
labelled image data (`aegan train classifier`), load it back, or use the one shipped for
Fashion-MNIST. Its loop is the driver's single-loss loop on model.loss(x, y), the learning
rate decaying linearly to 0."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from shlex import quote

import numpy as np
import torch

from .. import checkpoint
from ..accel import Accel
from ..config import RunConfig
from ..data import Dataset, Normalizer
from ..errors import DataError
from ..models.classifier import Classifier
from ..optim import make_optimizer
from ..train import train_on_loss
from ..version import __version__
from .base import Job, RunBase, data_info
from .recipe import split_feed, training_feed

# feature networks that ship inside the package: feature_nets/<dataset name>/{config.json,
# model.safetensors, info.json}; info.json records the test accuracy and the training command
SHIPPED = Path(__file__).resolve().parents[1] / "feature_nets"


class ClassifierRun(RunBase):
    """A trained classifier. `features` is the space FCD, KID, precision/recall live in."""

    label = "classifier"
    commands = "use it as the feature network of 'aegan evaluate GAN_RUN --features RUN'"

    net = property(lambda self: self.module, doc="the classifier network")
    num_classes = property(lambda self: self.net.num_classes, doc="how many classes it tells apart")

    @property
    def title(self) -> str:
        return "classifier"

    def features(self, x) -> np.ndarray:
        """(N, feature_dim) penultimate features of examples in the data's own units."""
        return self.map_batches(self.net.features, self.to_model(x)).numpy()

    def predict(self, x) -> np.ndarray:
        return self.map_batches(lambda t: self.net(t).argmax(1), self.to_model(x)).numpy()

    def accuracy(self, x, y) -> float:
        return float((self.predict(x) == np.asarray(y)).mean())

    @classmethod
    def build_module(cls, config: RunConfig, normalizer: Normalizer) -> torch.nn.Module:
        info = config.data_info
        return Classifier(config.model, tuple(info["shape"]), len(info["classes"]))

    @staticmethod
    def shown_metric(key: str, value) -> bool:
        return isinstance(value, float) and key.startswith(("train_", "val_"))

    def summary(self) -> str:
        return super().summary().replace(" examples,", f" examples, {self.num_classes} classes,", 1)

    def next_commands(self) -> list[str]:
        path = quote(str(self.path))
        return [f"aegan info {path}", f"aegan report {path}        # the training curves",
                f"# then, with a GAN trained on the same data: aegan evaluate GAN_RUN --features {path}"]

    def describe(self) -> list[tuple[str, str]]:
        m = self.config.model
        return [("model", f"classifier, {self.num_classes} classes, features {m.feature_dim}"),
                ("body", f"conv, channels {','.join(map(str, m.conv_channels))}")]

    def learning_rates(self) -> str:
        return f"lr {self.config.train.lr} (linear decay)"


def shipped(name: str) -> ClassifierRun | None:
    """The feature network shipped for dataset `name`, if there is one."""
    folder = SHIPPED / name
    return ClassifierRun.open(folder) if (folder / checkpoint.CONFIG).is_file() else None


def prepare(ds: Dataset, config: RunConfig, accel: Accel) -> Job:
    """Pixels in [0, 1], the CNN, the validation part held out (its error is logged per epoch)."""
    if ds.kind != "image" or ds.y is None:
        raise DataError(f"a classifier needs labelled images; {ds.name} is "
                        f"{'unlabelled' if ds.y is None else 'a table'} (use class subfolders or a labelled "
                        "named dataset)")
    tc = config.train
    normalizer = Normalizer.fit(ds.x, ds.kind, "unit")
    net = Classifier(config.model, ds.shape, ds.num_classes)
    val, train = split_feed(training_feed(ds, normalizer, tc, accel, labels=True), tc)
    config = dataclasses.replace(config, data_info=data_info(ds, normalizer), aegan_version=__version__)
    opt = make_optimizer(net.parameters(), tc.lr, weight_decay=tc.weight_decay)

    def fit(ctl, on_epoch, progress):
        return train_on_loss(net, train, val, tc, opt=opt, schedule="linear", on_epoch=on_epoch, progress=progress,
                             control=ctl, accel=accel)

    return Job(ClassifierRun(config, net, normalizer), fit, lambda: {"optimizer": opt.state_dict()})


RUN_CLASS = ClassifierRun  # what runs/tasks.py finds here, with `prepare`
