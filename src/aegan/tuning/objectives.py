"""What `aegan tune` minimises or maximises: a number each epoch of a trial records (its
metrics.jsonl keys), or for image GANs the Frechet classifier distance of samples to the test
split, computed at each epoch's end in the feature space of the network shipped for the data.
Pure bookkeeping apart from `FCDScore`."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import UsageError

# record keys (without their train_/val_ prefix) that are better when larger
LARGER_IS_BETTER = ("psnr", "modes", "high_quality", "accuracy", "perplexity", "usage", "coverage", "precision",
                    "recall", "density")
FCD_SAMPLES = 2000  # samples per epoch for a GAN's FCD: the spread of the value is small beside its gaps

# what each kind's per-epoch record holds, before the train_/val_ prefix (models' loss dicts)
LOSS_PARTS = {
    "ae": ("loss", "recon"), "dae": ("loss", "recon"), "sparse": ("loss", "recon", "sparsity"),
    "vae": ("loss", "recon", "kl", "mse", "nelbo"), "vqvae": ("loss", "recon", "commitment", "perplexity", "usage"),
    "codec": ("loss", "bpp", "mse", "psnr"), "classifier": ("loss", "error"),
}
GAN_RECORD = ("d_loss", "g_loss", "d_real", "d_fake")
MODE_RECORD = ("mode_modes", "mode_high_quality", "mode_reverse_kl")


def direction(metric: str) -> str:
    """'maximize' for numbers that are better larger (PSNR, modes covered, ...), else 'minimize'."""
    return "maximize" if metric.split("_", 1)[-1] in LARGER_IS_BETTER or metric in LARGER_IS_BETTER else "minimize"


@dataclasses.dataclass(frozen=True)
class Objective:
    metric: str
    direction: str
    what: str  # how the summary names it


def recorded(command: str, has_validation: bool, gan_extras: tuple[str, ...] = ()) -> list[str]:
    """The metrics an epoch of `aegan train COMMAND` records."""
    if command == "gan":
        return [*GAN_RECORD, *gan_extras]
    parts = LOSS_PARTS[command]
    return [f"train_{p}" for p in parts] + ([f"val_{p}" for p in parts] if has_validation else [])


def default_metric(command: str, has_validation: bool, gan_extras: tuple[str, ...]) -> tuple[str, str]:
    """(metric, why) when --metric is not given."""
    split = "val" if has_validation else "train"
    where = "validation" if has_validation else "training (no validation split: --val-split 0)"
    if command == "vae":
        return f"{split}_nelbo", f"{where} negative ELBO (nats per example, beta-free)"
    if command in ("ae", "dae", "sparse", "vqvae"):
        return f"{split}_recon", f"{where} reconstruction MSE, penalties left out so that their weights can be tuned"
    if command == "codec":
        return f"{split}_loss", f"{where} rate + lambda x distortion (lambda fixed)"
    if command == "classifier":
        return f"{split}_error", f"{where} error rate"
    if "fcd" in gan_extras:
        return "fcd", f"FCD of {FCD_SAMPLES} samples to the test split in the shipped feature network's space"
    if "mode_reverse_kl" in gan_extras:
        return "mode_reverse_kl", "reverse KL of the samples' mode histogram (toy data with known modes)"
    raise UsageError("a GAN on this data has no default objective (no feature network ships for it and it has no "
                     "known modes); give --metric with one of " + ", ".join(GAN_RECORD) + " or tune an image GAN "
                     "on fashion-mnist")


def objective(command: str, metric: str | None, has_validation: bool, gan_extras: tuple[str, ...] = ()) -> Objective:
    """The objective of a study; an unknown metric is refused with the ones this kind records."""
    known = recorded(command, has_validation, gan_extras)
    if metric is None:
        metric, what = default_metric(command, has_validation, gan_extras)
        return Objective(metric, direction(metric), what)
    if metric not in known:
        raise UsageError(f"--metric {metric!r} is not recorded by {command} runs here; expected one of "
                         f"{', '.join(known)}")
    return Objective(metric, direction(metric), metric)


class FCDScore:
    """An image GAN's FCD at an epoch's end: FCD_SAMPLES samples of the EMA generator against as
    many test images (their features computed once), in a feature network's space."""

    def __init__(self, data_config, feature_run, seed: int = 0):
        from ..data import load_dataset
        from ..evaluation import _features, dataset_unit_images
        test = load_dataset(data_config, "test")
        n = min(FCD_SAMPLES, len(test))
        pick = np.sort(np.random.default_rng(seed).choice(len(test), n, replace=False))
        self.net, self.n, self.seed = feature_run.net, n, seed
        self.real, _ = _features(self.net, dataset_unit_images(test.subset(pick)))

    def __call__(self, run) -> float:
        from .. import metrics
        from ..evaluation import _features
        fake = run.normalizer.to_pixels(run.sample_model(self.n, seed=self.seed))
        feats, _ = _features(self.net, fake)
        return float(metrics.fcd(self.real, feats))
