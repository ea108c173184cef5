"""`aegan evaluate`: the metrics that fit a run, each beside its real-vs-real floor.

Sample metrics live in the feature space of aegan's own classifier (shipped for
Fashion-MNIST, or trained with `aegan train classifier`): images go in as pixels in [0, 1].
The floor of each metric is the same metric between N training images and N test images:
no generator can be expected to beat it with this N."""

from __future__ import annotations

import numpy as np
import torch

from . import metrics
from .config import IWAE_K, DataConfig
from .data import Dataset, Normalizer, load_dataset
from .errors import DataError, UsageError
from .runs.classifier import ClassifierRun, shipped

KID_SUBSETS, KID_SIZE = 100, 1000
STACKED, STACKED_SAMPLES = "stacked-fashion-mnist", 26000  # the PacGAN protocol's sample count
IWAE_EXAMPLES = 1000  # the importance-weighted bound (IWAE_K samples) is costly: k passes per example


def unit_images(x: np.ndarray, what: str = "samples") -> torch.Tensor:
    """uint8 pixels or floats in [0, 1] -> float tensor in [0, 1], (N, C, H, W)."""
    arr = np.asarray(x)
    if arr.dtype == np.uint8:
        return torch.from_numpy(arr.astype(np.float32) / 255.0)
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise DataError(f"{what} hold NaN or inf; expected pixels in [0, 1]")
    if arr.size and (arr.min() < -1e-3 or arr.max() > 1 + 1e-3):
        raise DataError(f"{what} range from {arr.min():.3g} to {arr.max():.3g}; expected pixels in [0, 1] "
                        "(or uint8), as 'aegan sample --out samples.npy' writes them")
    return torch.from_numpy(arr.clip(0, 1))


def dataset_unit_images(ds: Dataset) -> torch.Tensor:
    return Normalizer.fit(ds.x, "image", "unit").transform(ds.x).clamp(0, 1)


@torch.no_grad()
def _features(net, x: torch.Tensor, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, F), predicted labels (N,)) of unit-pixel images."""
    net.eval()
    feats, labels = [], []
    for i in range(0, len(x), batch):
        f = net.features(x[i:i + batch])
        feats.append(f)
        labels.append(net.head(f).argmax(1))
    return torch.cat(feats).numpy().astype(np.float64), torch.cat(labels).numpy()


def standardise(real: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Each set minus the mean of `real`, over one scale: the root of `real`'s mean per-feature variance.
    The cubic kernel of KID then sees values of order 1, as with Inception features, whatever the scale
    of the classifier's ReLU features. One scale for all features, not one per feature: a unit that
    almost never fires on real images (spread 1e-6) would turn a generator's stray activation of it into
    a value of thousands that swamps the kernel (KID of real against real was -996 x1e-3 on Fashion-MNIST)."""
    mu, scale = real.mean(0), float(np.sqrt(real.var(0).mean()))
    scale = scale if scale > 1e-12 else 1.0
    return [(a - mu) / scale for a in (real, *others)]


def sample_metrics(real: np.ndarray, fake: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Every feature-space metric between two (N, F) feature sets (KID on standardised features)."""
    # subsets of half the set at most, so that the spread says something when N is small
    zr, zf = standardise(real, fake)
    kid, kid_std = metrics.kid(zr, zf, KID_SUBSETS, min(KID_SIZE, len(real) // 2, len(fake) // 2), seed)
    return {"fcd": metrics.fcd(real, fake), "kid": kid, "kid_std": kid_std,
            **metrics.precision_recall(real, fake), **metrics.density_coverage(real, fake)}


def evaluate_images(fake: torch.Tensor, data: DataConfig, feature_run, n: int, seed: int = 0) -> dict:
    """Sample metrics of unit-pixel images `fake` against the test split of `data` (read with
    its settings, e.g. the image size a GAN was trained at), with the train-vs-test floor on the
    same N."""
    test, train = load_dataset(data, "test"), load_dataset(data, "train")
    name = data.data
    if tuple(fake.shape[1:]) != test.shape:
        raise DataError(f"samples of shape {tuple(fake.shape[1:])} per example; {name} images are {test.shape}")
    if tuple(feature_run.shape) != test.shape:
        raise UsageError(f"the feature network takes images of shape {feature_run.shape}, {name} has {test.shape}; "
                         f"train one on this data with 'aegan train classifier --data {name} --out FEATURES' "
                         "(with the same --image-size/--channels) and pass --features FEATURES")
    n = min(n, len(fake), len(test), len(train))
    if n < KID_SIZE // 10:
        raise UsageError(f"{n} samples are too few for these metrics; use at least {KID_SIZE // 10} (-n)")
    rng = np.random.default_rng(seed)
    pick = lambda m: np.sort(rng.choice(m, n, replace=False))  # noqa: E731
    f_fake, y_fake = _features(feature_run.net, fake[pick(len(fake))])
    test_idx, train_idx = pick(len(test)), pick(len(train))
    f_test, _ = _features(feature_run.net, dataset_unit_images(test.subset(test_idx)))
    f_train, y_train = _features(feature_run.net, dataset_unit_images(train.subset(train_idx)))
    value, floor = sample_metrics(f_test, f_fake, seed), sample_metrics(f_test, f_train, seed)
    out = {k: {"value": value[k], "real_vs_real": floor[k]} for k in ("fcd", "kid", "precision", "recall",
                                                                      "density", "coverage")}
    out["kid"].update(std=value["kid_std"], real_vs_real_std=floor["kid_std"])
    if test.y is not None and len(test.classes or []) == feature_run.num_classes:
        cov = metrics.class_coverage(y_fake, test.y[test_idx], feature_run.num_classes)
        real_cov = metrics.class_coverage(y_train, test.y[test_idx], feature_run.num_classes)
        out["class_kl"] = {"value": cov["class_kl"], "real_vs_real": real_cov["class_kl"]}
        out["classes_missing"] = {"value": [test.classes[c] for c in cov["classes_missing"]], "real_vs_real": []}
    out["n"] = n
    return out


def feature_network(data_name: str, features: str | None):
    """The classifier given with --features, else the one shipped for this dataset."""
    if features:
        return ClassifierRun.open(features)
    run = shipped(data_name)
    if run is None:
        raise UsageError(f"no feature network ships for {data_name!r}; train one with 'aegan train classifier "
                         f"--data {data_name} --out FEATURES' and pass --features FEATURES")
    return run


def evaluate_gan(run, n: int, features: str | None = None, seed: int = 0) -> dict:
    """Toy 2-D runs: the mode metrics; image runs: the sample metrics against the test split."""
    stats = run.mode_stats(seed=seed)
    if stats is not None:
        return {"modes": {"value": stats["modes"], "of": stats["num_modes"]},
                "high_quality": {"value": stats["high_quality"]}, "reverse_kl": {"value": stats["reverse_kl"]},
                "n": 2500}
    if run.kind != "image":
        raise UsageError("sample metrics need image data or a 2-D toy; this GAN is tabular")
    if run.config.data_info["name"] == STACKED:
        fake = run.normalizer.to_pixels(run.sample_model(max(n, STACKED_SAMPLES), seed=seed))
        return evaluate_stacked(fake, run.data_config, feature_network("fashion-mnist", features))
    fnet = feature_network(run.config.data_info["name"], features)
    fake = run.normalizer.to_pixels(run.sample_model(n, seed=seed))
    out = evaluate_images(fake, run.data_config, fnet, n, seed)
    k = run.gan.num_classes
    if k and k == fnet.num_classes:  # conditional: is a sample asked for class c classified as c?
        per = max(1, n // k)
        hits = [float((_features(fnet.net, run.normalizer.to_pixels(run.sample_model(per, c, seed)))[1] == c).mean())
                for c in range(k)]
        # the floor: the same classifier on the real test images of each class (Fashion-MNIST's shirts: 77%)
        test = load_dataset(run.data_config, "test")
        pred, truth = _features(fnet.net, dataset_unit_images(test))[1], np.asarray(test.y)
        real = [float((pred[truth == c] == c).mean()) if (truth == c).any() else float("nan") for c in range(k)]
        out["class_accuracy"] = {"value": float(np.mean(hits)), "real_vs_real": float(np.nanmean(real)),
                                 "per_class": hits, "worst": float(min(hits)), "real_per_class": real}
    return out


def evaluate_stacked(fake: torch.Tensor, data: DataConfig, feature_run) -> dict:
    """Modes of stacked Fashion-MNIST captured by unit-pixel samples `fake` (N, 3, 28, 28): each channel
    classified by `feature_run`, a mode is a triple of classes; beside the same count on as many real
    stacked training images (the floor)."""
    real = load_dataset(data, "train")
    n = min(len(fake), len(real))

    def channel_classes(x: torch.Tensor) -> np.ndarray:
        flat = x.reshape(-1, 1, *x.shape[2:])  # every channel as a one-channel image
        return _features(feature_run.net, flat)[1].reshape(len(x), -1)

    value = metrics.stacked_modes(channel_classes(fake[:n]), feature_run.num_classes)
    floor = metrics.stacked_modes(channel_classes(dataset_unit_images(real.subset(np.arange(n)))),
                                  feature_run.num_classes)
    return {"modes": {"value": value["modes"], "of": value["num_modes"], "real_vs_real": floor["modes"]},
            "mode_kl": {"value": value["kl"], "real_vs_real": floor["kl"]}, "n": n}


def evaluate_autoencoder(run, n: int, seed: int = 0, baselines: bool = True) -> dict:
    """Test reconstruction error, linear-probe and k-NN accuracy of the codes beside raw values and
    PCA codes of the same size (left out with baselines=False), and for a VAE the ELBO and the
    importance-weighted bound."""
    from sklearn.decomposition import PCA  # heavy: only when evaluating
    train, test = run.dataset("train"), run.dataset("test")
    rng = np.random.default_rng(seed)
    if len(test) > n:
        test = test.subset(np.sort(rng.choice(len(test), n, replace=False)))
    if len(train) > n:
        train = train.subset(np.sort(rng.choice(len(train), n, replace=False)))
    x, x_tr = run.to_model(test), run.to_model(train)  # model space, mapped once
    rec = run.map_batches(run.model.reconstruct, x)
    if run.kind == "image":
        truth, rec = run.normalizer.to_pixels(x), run.normalizer.to_pixels(rec)
        out = {"mse": {"value": metrics.mse(truth, rec), "units": "pixels in [0, 1]"},
               "psnr": {"value": metrics.psnr(truth, rec), "units": "dB"}}
    else:
        out = {"mse": {"value": metrics.mse(x, rec), "units": "standardised"}}
    if train.y is not None and test.y is not None:
        c_tr, c_te = (run.map_batches(run.model.encode, t).numpy() for t in (x_tr, x))
        if baselines:
            raw_tr, raw_te = x_tr.flatten(1).numpy(), x.flatten(1).numpy()
            pca = PCA(run.code_dim, random_state=0).fit(raw_tr)
            p_tr, p_te = pca.transform(raw_tr), pca.transform(raw_te)
        for name, fn in (("linear_probe", metrics.linear_probe_accuracy), ("knn", metrics.knn_accuracy)):
            out[name] = {"value": fn(c_tr, train.y, c_te, test.y)}
            if baselines:
                out[name].update(raw=fn(raw_tr, train.y, raw_te, test.y),
                                 **{f"pca_{run.code_dim}": fn(p_tr, train.y, p_te, test.y)})
    if run.config.model.family == "vae":
        torch.manual_seed(seed)
        sub = test.subset(np.arange(min(len(test), IWAE_EXAMPLES)))
        out["elbo"] = {"value": float(np.mean(run.elbo(test))), "units": "nats"}
        out[f"iwae_{IWAE_K}"] = {"value": float(np.mean(run.iwae(sub, IWAE_K))), "units": "nats",
                                 "examples": len(sub)}
    out["n"] = len(test)
    return out


def evaluate_sample_file(path: str, data: str, n: int = 10000, features: str | None = None, seed: int = 0,
                         data_dir: str | None = None) -> dict:
    """Score samples made by any tool (.npy of images, pixels in [0, 1] or uint8) on aegan's ruler."""
    samples = load_dataset(path, "all")
    if samples.kind != "image":
        raise DataError(f"{path}: a table of shape {samples.x.shape}; expected images (N, H, W), (N, C, H, W) "
                        "or (N, H, W, C)")
    fake = unit_images(samples.x, path)
    if data == STACKED:  # anyone's stacked samples: the modes they cover
        if tuple(fake.shape[1:]) != (3, 28, 28):
            raise DataError(f"{path}: samples of shape {tuple(fake.shape[1:])}; {STACKED} images are (3, 28, 28)")
        return evaluate_stacked(fake, DataConfig(data=data, data_dir=data_dir),
                                feature_network("fashion-mnist", features))
    return evaluate_images(fake, DataConfig(data=data, data_dir=data_dir), feature_network(data, features), n, seed)


def format_table(result: dict) -> str:
    """The result of evaluate_* as aligned text lines: metric, value, real-vs-real floor, extras."""
    lines = [f"{'metric':<16}{'value':>12}{'real vs real':>14}  notes"]
    for name, entry in result.items():
        if not isinstance(entry, dict):
            continue
        val, floor = entry.get("value"), entry.get("real_vs_real")
        fmt = lambda v: (f"{v:.4g}" if isinstance(v, float) else str(v)) if v is not None else ""  # noqa: E731
        notes = ", ".join(f"{k} {fmt(v)}" for k, v in entry.items() if k not in ("value", "real_vs_real"))
        lines.append(f"{name:<16}{fmt(val):>12}{fmt(floor):>14}  {notes}")
    lines.append(f"({result.get('n')} examples)")
    return "\n".join(lines)
