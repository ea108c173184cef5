"""A GAN run: train one into a folder, load it back from the folder alone, sample from it."""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path

import numpy as np
import torch

from . import __version__, checkpoint
from .config import RunConfig, validate
from .data import Dataset, Normalizer
from .errors import RunError, UsageError
from .metrics import mode_stats
from .models.gan import build_gan, resolve
from .accel import Accel
from .train import make_gan_optimizers, train_gan
from .run import RunBase, data_info, finishing, open_training, subsample, training_feed
from .viz import grid_image, loss_curves, save_png, toy_scatter

MODE_SAMPLES = 2500  # the PacGAN protocol's sample count


class GANRun(RunBase):
    """A trained GAN. `sample` returns numpy arrays in the data's own units."""

    @property
    def gan(self):
        return self.module

    @property
    def classes(self) -> list[str] | None:
        return self.config.data_info.get("classes")

    def __repr__(self) -> str:
        m = self.config.model
        return f"GANRun({m.loss}/{m.arch}, data={self.kind} {self.shape}, path={self.path})"

    def _labels(self, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor | None:
        k = self.gan.num_classes
        if label is None:
            return None if not k else torch.randint(0, k, (n,), generator=gen)
        if not k:
            raise UsageError(f"--class {label}: this GAN is not conditional; train with --conditional "
                             "on labelled data to pick classes")
        if not 0 <= label < k:
            names = f" ({', '.join(self.classes)})" if self.classes else ""
            raise UsageError(f"--class {label} is outside the labels 0..{k - 1}{names}")
        return torch.full((n,), int(label), dtype=torch.long)

    def sample_model(self, n: int, label: int | None = None, seed: int | None = 0,
                     z: torch.Tensor | None = None) -> torch.Tensor:
        if n < 1:
            raise UsageError(f"-n {n}: expected at least 1 sample")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = self.gan.noise(n, gen) if z is None else z
        labels = self._labels(n, label, gen or torch.Generator().manual_seed(0))
        dev = self.device
        chunks = [self.gan.sample(len(z[i:i + 512]), None if labels is None else labels[i:i + 512].to(dev),
                                  z=z[i:i + 512].to(dev)).float().cpu()
                  for i in range(0, len(z), 512)]
        return torch.cat(chunks)

    def sample(self, n: int, label: int | None = None, seed: int | None = 0) -> np.ndarray:
        """(n, *shape) samples in the data's own units (image pixels in [0, 1]); same seed, same samples."""
        return self.normalizer.inverse(self.sample_model(n, label, seed))

    def interpolate(self, steps: int = 8, rows: int = 1, seed: int | None = 0, label: int | None = None) -> np.ndarray:
        """(rows * steps, *shape): for each row, samples along a straight line between two noise vectors."""
        if steps < 2:
            raise UsageError(f"--steps {steps}: expected at least 2")
        gen = torch.Generator().manual_seed(seed if seed is not None else 0)
        ends = self.gan.noise(2 * rows, gen).view(rows, 2, -1)
        t = torch.linspace(0, 1, steps).view(1, steps, 1)
        z = (ends[:, :1] * (1 - t) + ends[:, 1:] * t).reshape(rows * steps, -1)
        return self.normalizer.inverse(self.sample_model(len(z), label, seed, z=z))

    def sample_grid(self, n: int = 64, seed: int = 0, nrow: int = 8):
        """A PIL picture of samples; conditional models get one row per class."""
        if self.kind != "image":
            raise UsageError("a sample picture needs image data; this GAN is tabular, write samples.npy instead")
        k = self.gan.num_classes
        if k:
            nrow = max(1, n // k)
            x = np.concatenate([self.sample(nrow, c, seed) for c in range(k)])
        else:
            x = self.sample(n, None, seed)
        return grid_image(self.normalizer.to_unit_pixels(x), nrow=nrow)

    def mode_stats(self, n: int = MODE_SAMPLES, seed: int = 0) -> dict | None:
        info = self.config.data_info
        if "modes" not in info:
            return None
        return mode_stats(self.sample(n, seed=seed), np.asarray(info["modes"]), info["mode_std"])

    @classmethod
    def load(cls, path: Path, cfg: RunConfig) -> "GANRun":
        info = cfg.data_info
        try:
            normalizer = Normalizer.from_dict(info["normalizer"])
            gan = build_gan(cfg.model, info["kind"], tuple(info["shape"]), normalizer.model_range,
                            info.get("num_classes"))
        except (KeyError, TypeError, UsageError) as e:
            raise RunError(f"{path}/config.json: cannot rebuild the GAN ({e}); the file is damaged "
                           "or was not written by aegan") from None
        checkpoint.load_weights(path / checkpoint.WEIGHTS, gan)
        return cls(cfg, gan, normalizer, path)


def fit_gan(ds: Dataset, config: RunConfig, out: str | Path | None = None, *, overwrite: bool = False,
            progress: bool = True, resume: bool = False) -> GANRun:
    """Train a GAN of `config` on `ds`; with `out`, write a run folder as it goes."""
    tc = config.train
    validate(None, tc)
    accel = Accel.from_config(tc)
    torch.manual_seed(tc.seed)
    ds = subsample(ds, tc)
    cfg = resolve(config.model, ds.kind, ds.shape)
    target = config.data.normalize
    if target == "auto":
        target = "symmetric" if ds.kind == "image" else "standard"  # tanh generators want [-1, 1]
    normalizer = Normalizer.fit(ds.x, ds.kind, target)
    num_classes = ds.num_classes if ds.y is not None else None
    gan = build_gan(cfg, ds.kind, ds.shape, normalizer.model_range, num_classes if cfg.conditional else None,
                    tc.batch_size).to(accel.device)
    feed = training_feed(ds, normalizer, tc, accel, labels=True)
    modes = {k: ds.extra[k] for k in ("modes", "mode_std") if k in ds.extra}
    info = data_info(ds, normalizer, num_classes=num_classes if cfg.conditional else None, **modes)
    config = dataclasses.replace(config, task="gan", model=cfg, data_info=info, aegan_version=__version__)
    run = GANRun(config, gan, normalizer, None)
    opts = make_gan_optimizers(gan, cfg)
    run.path, ctl, history, tb = open_training(out, overwrite, resume, config, gan, progress)

    def on_epoch(record: dict) -> None:
        stats = run.mode_stats()
        if stats is not None:
            record.update({f"mode_{k}": v for k, v in stats.items()})
        history.append(record)
        if run.path is None:
            return
        path = run.path
        checkpoint.append_jsonl(path / checkpoint.METRICS, record)
        checkpoint.save_weights(path / checkpoint.WEIGHTS, gan)
        name = f"samples_epoch{record['epoch']:03d}.png"
        pictures = {}
        if ds.kind == "image":
            grid = run.sample_grid()
            save_png(path / name, grid)
            save_png(path / "samples.png", grid)
            pictures["samples"] = grid
        elif "modes" in info or ds.shape == (2,):
            pts = run.sample(MODE_SAMPLES)
            centers = np.asarray(info["modes"]) if "modes" in info else None
            title = (f"epoch {record['epoch']}: {stats['modes']}/{stats['num_modes']} modes, "
                     f"{100 * stats['high_quality']:.1f}% high quality" if stats else f"epoch {record['epoch']}")
            toy_scatter(pts, centers, path / name, title)
            toy_scatter(pts, centers, path / "samples.png", title)
        loss_curves(history, path / "loss.png", title=f"gan {cfg.loss}/{cfg.arch}")
        tb.epoch(record, pictures)

    with finishing(run.path, tb):
        train_gan(gan, feed, None, cfg, tc, opts=opts, on_epoch=on_epoch, progress=progress, control=ctl, accel=accel)
    accel.release(gan)
    run.history = history
    if run.path is not None:
        checkpoint.save_weights(run.path / checkpoint.WEIGHTS, gan)
        checkpoint.save_state(run.path / checkpoint.STATE, {
            "optimizer_g": opts[0].state_dict(), "optimizer_d": opts[1].state_dict(),
            "torch_rng": torch.get_rng_state(), "python": platform.python_version(), "torch": str(torch.__version__),
        })
    gan.eval()
    return run
