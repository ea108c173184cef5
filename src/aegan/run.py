"""A run: a trained model with its config and normaliser. Train one into a folder, load it
back from the folder alone, and use it on data in the data's own units."""

from __future__ import annotations

import dataclasses
import platform
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from . import __version__, checkpoint, distributed
from .config import RunConfig, validate
from .data import Dataset, Normalizer, is_streamed
from .data.feed import StreamFeed, TensorFeed
from .data.arrays import as_examples, check_finite
from .errors import DataError, RunError, UsageError
from .models import MODELS, build_model
from .accel import Accel
from .train import Control, Interrupted, evaluate, make_optimizer, train_autoencoder
from .tb_log import TensorBoardLog
from .viz import loss_curves, reconstruction_grid, save_png

GRID_EXAMPLES = 16


class RunBase:
    """What every trained run has: its config, its normaliser, its network (`module`), an
    optional folder, and the per-epoch records."""

    def __init__(self, config: RunConfig, module: torch.nn.Module, normalizer: Normalizer,
                 path: Path | None = None):
        self.config, self.module, self.normalizer, self.path = config, module, normalizer, path
        self.history: list[dict] = []  # per-epoch records of a run trained in this process
        self.module.eval()

    @property
    def kind(self) -> str:
        return self.config.data_info["kind"]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.config.data_info["shape"])

    def metrics(self) -> list[dict]:
        """One record per epoch: from metrics.jsonl, or from training in this process."""
        return checkpoint.read_jsonl(self.path / checkpoint.METRICS) if self.path else self.history

    def to_model(self, x) -> torch.Tensor:
        """Raw examples (a Dataset or an array) -> model-space tensor, after checking the shape."""
        arr = x.x if isinstance(x, Dataset) else np.asarray(x)
        if not isinstance(x, Dataset):
            if arr.ndim == 1 and self.kind == "table":
                arr = arr[None]
            elif arr.ndim == len(self.shape) and self.kind == "image":
                arr = arr[None]
            elif arr.ndim == 3 and self.kind == "image" and self.shape[0] == 1 and arr.shape[1:] == self.shape[1:]:
                pass
            arr, _ = as_examples(arr, "input")
        if tuple(arr.shape[1:]) != self.shape:
            raise DataError(f"data of shape {tuple(arr.shape[1:])} per example does not fit this run, which was "
                            f"trained on {self.kind} data of shape {self.shape}; use data like the training data "
                            "(e.g. the same --image-size)")
        check_finite(arr, "input")
        return self.normalizer.transform(arr)

    @property
    def device(self) -> torch.device:
        """Where the network is: the CPU, except while it trains on a GPU."""
        return next(self.module.parameters()).device

    @torch.no_grad()
    def _map(self, fn, t: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """fn over `t` in batches on the network's device, without gradients; (N, ...) -> (N, ...)
        on the CPU."""
        dev = self.device
        return (torch.cat([fn(t[i:i + batch_size].to(dev)).float().cpu() for i in range(0, len(t), batch_size)])
                if len(t) else t)

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write config.json and model.safetensors into a run folder."""
        path = checkpoint.prepare_run_dir(path, overwrite)
        checkpoint.write_text(path / checkpoint.CONFIG, self.config.to_json())
        checkpoint.save_weights(path / checkpoint.WEIGHTS, self.module)
        self.path = path
        return path


class Run(RunBase):
    """A trained autoencoder. Methods take and return numpy arrays in the data's own units."""

    @property
    def model(self):
        return self.module

    @property
    def code_dim(self) -> int:
        return self.config.model.code_dim

    def metrics(self) -> list[dict]:
        """One record per epoch: from metrics.jsonl, or from training in this process."""
        return checkpoint.read_jsonl(self.path / checkpoint.METRICS) if self.path else self.history

    def __repr__(self) -> str:
        m = self.config.model
        return (f"Run({m.family}/{m.arch}, code_dim={m.code_dim}, data={self.kind} {self.shape}, "
                f"path={str(self.path) if self.path else None})")

    def encode(self, x) -> np.ndarray:
        """(N, code_dim) codes; for a VAE the posterior means."""
        return self._map(self.model.encode, self.to_model(x)).numpy()

    def decode(self, codes) -> np.ndarray:
        """Codes -> examples in the data's own units (image pixels in [0, 1])."""
        z = np.asarray(codes, dtype=np.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.code_dim:
            raise DataError(f"codes of shape {z.shape}; this run decodes (N, {self.code_dim}) arrays "
                            "(as written by 'aegan encode')")
        if not np.isfinite(z).all():
            raise DataError("codes hold NaN or inf; expected finite numbers")
        return self.normalizer.inverse(self._map(self.model.decode, torch.from_numpy(z)))

    def reconstruct(self, x) -> np.ndarray:
        return self.normalizer.inverse(self._map(self.model.reconstruct, self.to_model(x)))

    def reconstruction_grid(self, x, nrow: int = 8):
        """A PIL picture: rows of inputs, each followed by their reconstructions (image runs)."""
        if self.kind != "image":
            raise UsageError("a reconstruction picture needs image data, this run is tabular; write .npy instead")
        t = x if isinstance(x, torch.Tensor) else self.to_model(x)
        rec = self._map(self.model.reconstruct, t)
        return reconstruction_grid(self.normalizer.to_pixels(t), self.normalizer.to_pixels(rec), nrow=nrow)

    def score(self, x) -> np.ndarray:
        """(N,) anomaly score: reconstruction MSE in model units (higher = more anomalous)."""
        return self._map(self.model.score, self.to_model(x)).numpy()

    def _vae(self):
        if not hasattr(self.model, "iwae_bound"):
            raise UsageError(f"a likelihood bound needs a vae run; this run is {self.config.model.family!r}")
        return self.model

    def elbo(self, x, samples: int = 1) -> np.ndarray:
        """(N,) evidence lower bound on log p(x) per example, in nats (model units; vae runs)."""
        vae = self._vae()
        return self._map(lambda t: vae.elbo(t, samples), self.to_model(x), 256).numpy()

    def iwae(self, x, k: int = 100) -> np.ndarray:
        """(N,) importance-weighted bound on log p(x) with k samples (Burda et al. 2016), in nats
        (model units; vae runs). At least as tight as the ELBO on average; -iwae estimates the NLL."""
        if k < 1:
            raise UsageError(f"k = {k} importance samples; expected at least 1 (100 or more for a tight bound)")
        vae = self._vae()
        return self._map(lambda t: vae.iwae_bound(t, k), self.to_model(x), 64).numpy()

    def evaluate(self, x) -> dict[str, float]:
        """Mean loss parts on `x` (model units), e.g. {"loss", "recon", ...}."""
        return evaluate(self.model, self.to_model(x))

    # --- files ---
    @classmethod
    def load(cls, path: str | Path) -> "Run":
        """Rebuild the model from config.json alone, then load its safetensors weights."""
        path = Path(path)
        cfg = read_run_config(path)
        if cfg.task != "autoencoder":
            raise RunError(f"{path}: a {cfg.task!r} run, not an autoencoder; use aegan.load({str(path)!r})")
        if cfg.model.family not in MODELS:
            raise RunError(f"{path}/config.json: unknown model family {cfg.model.family!r}; "
                           f"expected one of {', '.join(MODELS)}")
        info = cfg.data_info
        try:
            normalizer = Normalizer.from_dict(info["normalizer"])
            model = build_model(cfg.model, info["kind"], tuple(info["shape"]), normalizer.model_range)
        except (KeyError, TypeError, UsageError) as e:
            raise RunError(f"{path}/config.json: cannot rebuild the model ({e}); the file is damaged "
                           "or was not written by aegan") from None
        checkpoint.load_weights(path / checkpoint.WEIGHTS, model)
        return cls(cfg, model, normalizer, path)


def data_info(ds: Dataset, normalizer: Normalizer, **extra) -> dict:
    """What config.json records of the training data: enough to check and map new data."""
    return {"kind": ds.kind, "shape": list(ds.shape), "name": ds.name, "source": ds.source,
            "classes": ds.classes, "num_examples": len(ds), "dtype": str(ds.x.dtype),
            "normalizer": normalizer.to_dict(), **extra}


def subsample(ds: Dataset, tc) -> Dataset:
    """At most tc.max_samples examples, picked by a permutation of tc.seed (order kept)."""
    if tc.max_samples is None or tc.max_samples >= len(ds):
        return ds
    return ds.subset(np.sort(np.random.default_rng(tc.seed).permutation(len(ds))[:tc.max_samples]))


def open_training(out: str | Path | None, overwrite: bool, resume: bool, config: RunConfig,
                  module: torch.nn.Module, progress: bool = True
                  ) -> tuple[Path | None, Control, list[dict], TensorBoardLog]:
    """The folder and checkpoint control of a training run: a fresh folder (config.json
    written), or with `resume` the existing one, its newest checkpoint loaded into `module`
    and its metrics log cut back to that checkpoint. Returns (folder, control, history so far,
    the TensorBoard log, which writes nothing without --tensorboard)."""
    tc = config.train
    if tc.tensorboard:
        TensorBoardLog.require(out)
    ctl = Control(every_epochs=tc.checkpoint_every, every_steps=tc.checkpoint_steps, on_nan=tc.on_nan,
                  grad_clip=tc.grad_clip)
    if out is None:
        return None, ctl, [], TensorBoardLog()
    history: list[dict] = []
    main = distributed.is_main()  # under torchrun only rank 0 writes; every process reads a checkpoint to resume
    if resume:
        path = Path(out)
        found = checkpoint.checkpoints(path)
        if not found:
            raise RunError(f"{path} has no checkpoint to resume from ({checkpoint.CHECKPOINTS}/ is missing or empty: "
                           "the run stopped before its first checkpoint); train it again")
        ctl.resume = checkpoint.load_checkpoint(found[-1], module)
        if not main:
            return None, ctl, history, TensorBoardLog()
        history = list(ctl.resume["loop"]["history"])
        checkpoint.write_jsonl(path / checkpoint.METRICS, history)
        if progress:
            loop = ctl.resume["loop"]
            print(f"resuming {path} from {found[-1].name} (epoch {loop['epoch']}, batch {loop['batch']})")
    elif not main:
        return None, ctl, history, TensorBoardLog()
    else:
        path = checkpoint.prepare_run_dir(out, overwrite)
        checkpoint.write_text(path / checkpoint.CONFIG, config.to_json())
    ctl.save = lambda state: checkpoint.save_checkpoint(path, state["loop"]["batches"], module, state,
                                                        tc.keep_checkpoints)
    ctl.log = lambda event: checkpoint.append_jsonl(path / checkpoint.EVENTS, event)
    return path, ctl, history, TensorBoardLog.open(path, tc.tensorboard)


@contextmanager
def finishing(path: Path | None, tb: TensorBoardLog):
    """Around a training call: an interrupt's message says how to resume; the TensorBoard log
    is closed whatever happens."""
    try:
        yield
    except Interrupted as e:
        if path is None:
            raise
        raise Interrupted(f"{e}; continue with: aegan train --resume {path}", e.exit_code) from None
    finally:
        tb.close()


def training_feed(ds: Dataset, normalizer: Normalizer, tc, accel: Accel, labels: bool = False):
    """The training data in model units as a feed (data/feed.py): one tensor on the training
    device, or, for a .npy read lazily from disk, batches read and normalised by tc.workers
    processes."""
    y = ds.y if labels else None
    if is_streamed(ds):
        return StreamFeed(ds.x, normalizer, y, accel.device, accel.loader_workers(tc.workers))
    return TensorFeed(normalizer.transform(ds.x), None if y is None else torch.from_numpy(y), accel.device)


def validation_split(n: int, tc) -> tuple[torch.Tensor, torch.Tensor]:
    """(validation, training) indices: a tc.seed permutation, tc.val_split of it held out
    (none for fewer than 10 examples)."""
    n_val = int(round(n * tc.val_split)) if n >= 10 else 0
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(tc.seed))
    return perm[:n_val], perm[n_val:]


def fit(ds: Dataset, config: RunConfig, out: str | Path | None = None, *, overwrite: bool = False,
        progress: bool = True, resume: bool = False) -> Run:
    """Train an autoencoder of `config` on `ds`; with `out`, write a run folder as it goes."""
    validate(config.model, config.train)
    tc = config.train
    accel = Accel.from_config(tc)
    torch.manual_seed(tc.seed)
    ds = subsample(ds, tc)
    normalizer = Normalizer.fit(ds.x, ds.kind, config.data.normalize)
    model = build_model(config.model, ds.kind, ds.shape, normalizer.model_range).to(accel.device)
    feed = training_feed(ds, normalizer, tc, accel)
    val, tr = validation_split(len(feed), tc)
    x_val, x_train = (feed.subset(val), feed.subset(tr)) if len(val) else (None, feed)
    del feed
    config = dataclasses.replace(config, data_info=data_info(ds, normalizer), aegan_version=__version__)
    run = Run(config, model, normalizer, None)
    opt = make_optimizer(model, tc)

    on_epoch = None
    path, ctl, history, tb = open_training(out, overwrite, resume, config, model, progress)
    if path is not None:
        run.path = path
        shown = x_val if x_val is not None else x_train
        show = shown.take(torch.arange(min(GRID_EXAMPLES, len(shown))))[0]

        def on_epoch(record: dict) -> None:
            history.append(record)
            checkpoint.append_jsonl(path / checkpoint.METRICS, record)
            checkpoint.save_weights(path / checkpoint.WEIGHTS, model)
            pictures = {}
            if ds.kind == "image":
                model.eval()
                grid = run.reconstruction_grid(show)
                model.train()
                save_png(path / f"recon_epoch{record['epoch']:03d}.png", grid)
                save_png(path / "recon.png", grid)
                pictures["reconstructions"] = grid
            loss_curves(history, path / "loss.png", title=f"{config.model.family}/{config.model.arch}")
            tb.epoch(record, pictures)

    with finishing(path, tb):
        run.history = train_autoencoder(model, x_train, x_val, tc, opt=opt, on_epoch=on_epoch, progress=progress,
                                        control=ctl, accel=accel)
    accel.release(model)
    if run.path is not None:
        checkpoint.save_weights(run.path / checkpoint.WEIGHTS, model)  # the best weights, if restored
        checkpoint.save_state(run.path / checkpoint.STATE, {
            "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(),
            "python": platform.python_version(), "torch": str(torch.__version__),
        })
    model.eval()
    return run


def read_run_config(path: Path) -> RunConfig:
    if not path.is_dir():
        raise RunError(f"no run folder at {path}; expected a folder written by 'aegan train ... --out {path}'")
    raw = checkpoint.read_json(path / checkpoint.CONFIG)
    return RunConfig.from_dict(raw, str(path / checkpoint.CONFIG))


def load(path: str | Path):
    """A run folder written by `aegan train`: a Run (autoencoders: encode, decode, reconstruct,
    score) or a GANRun (sample, interpolate), rebuilt from config.json alone."""
    from .classifier_run import ClassifierRun
    from .gan_run import GANRun
    path = Path(path)
    cfg = read_run_config(path)
    loaders = {"autoencoder": lambda: Run.load(path), "gan": lambda: GANRun.load(path, cfg),
               "classifier": lambda: ClassifierRun.load(path, cfg)}
    if cfg.task not in loaders:
        raise RunError(f"{path}/config.json: unknown task {cfg.task!r}; expected one of {', '.join(loaders)}")
    return loaders[cfg.task]()
