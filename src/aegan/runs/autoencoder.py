"""The autoencoder kind of run: the trained run (encode, decode, reconstruct, score), how it is
prepared for the fit recipe, and what `aegan info`, `evaluate` and `report` show of it. Its loop
is the driver's single-loss loop (train.py: train_on_loss) on model.loss(x)."""

from __future__ import annotations

import dataclasses
from shlex import quote

import numpy as np
import torch

from ..version import __version__
from ..accel import Accel
from ..config import RunConfig
from ..config_checks import validate_autoencoder
from ..data import Dataset, Normalizer
from ..errors import AeganError, DataError, UsageError
from ..evaluation import evaluate_autoencoder
from ..models import MODELS, build_model, resolve_sizes
from ..optim import make_optimizer
from ..train import evaluate, train_on_loss
from ..viz import grid_image, latent_map_figure, reconstruction_grid, save_png
from .base import Figure, Job, RunBase, Section, data_info
from .coded_files import CodedFiles
from .recipe import shown_examples, split_feed, training_feed

GRID_EXAMPLES = 16  # examples in the per-epoch reconstruction picture
MAP_POINTS = 2000  # test examples in a report's latent map


class AutoencoderRun(CodedFiles, RunBase):
    """A trained autoencoder. Methods take and return numpy arrays in the data's own units.
    A vqvae run also writes .aegz files (compress/decompress: its indices, entropy-coded)."""

    label = "autoencoder"
    commands = "aegan encode, decode, reconstruct and anomaly take autoencoder runs"

    @property
    def can_compress(self) -> bool:
        return self.config.model.family == "vqvae"

    def check_compressible(self) -> None:
        if not self.can_compress:
            raise UsageError(f"{self.path or 'this run'} is a {self.config.model.family} autoencoder, whose codes are "
                             "floats; compress needs a codec run (aegan train codec) or a vqvae autoencoder")
        if self.kind != "image":
            raise UsageError("compress codes images; this vqvae run was trained on a table")

    def encode_chunk(self, t: torch.Tensor, refine: int = 0) -> list:
        idx = self.model.indices(t).cpu().numpy()
        rows = np.broadcast_to(np.arange(self.model.positions), idx.shape)
        return [(idx, rows, self.model.tables())]

    def decode_chunk(self, n: int, next_symbols) -> torch.Tensor:
        rows = np.broadcast_to(np.arange(self.model.positions), (n, self.model.positions))
        # each symbol is decoded with a table of codebook_size entries: always a valid index
        return self.model.decode_indices(torch.from_numpy(next_symbols(rows, self.model.tables())).to(self.device))

    model = property(lambda self: self.module, doc="the autoencoder network (models/)")

    @property
    def code_dim(self) -> int:
        return self.config.model.code_dim

    @property
    def title(self) -> str:
        return f"{self.config.model.family}/{self.config.model.arch}"

    def __repr__(self) -> str:
        m = self.config.model
        return (f"Run({m.family}/{m.arch}, code_dim={m.code_dim}, data={self.kind} {self.shape}, "
                f"path={str(self.path) if self.path else None})")

    def encode(self, x) -> np.ndarray:
        """(N, code_dim) codes; for a VAE the posterior means."""
        return self.map_batches(self.model.encode, self.to_model(x)).numpy()

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
        return self.normalizer.inverse(self.map_batches(self.model.decode, torch.from_numpy(z)))

    def reconstruct(self, x) -> np.ndarray:
        return self.normalizer.inverse(self.map_batches(self.model.reconstruct, self.to_model(x)))

    def reconstruction_grid(self, x, nrow: int = 8):
        """A PIL picture: rows of inputs, each followed by their reconstructions (image runs)."""
        if self.kind != "image":
            raise UsageError("a reconstruction picture needs image data, this run is tabular; write .npy instead")
        t = x if isinstance(x, torch.Tensor) else self.to_model(x)
        rec = self.map_batches(self.model.reconstruct, t)
        return reconstruction_grid(self.normalizer.to_pixels(t), self.normalizer.to_pixels(rec), nrow=nrow)

    def score(self, x) -> np.ndarray:
        """(N,) anomaly score: reconstruction MSE in model units (higher = more anomalous)."""
        return self.map_batches(self.model.score, self.to_model(x)).numpy()

    def require_vae(self):
        """The model, when it has a likelihood bound (a VAE)."""
        if not hasattr(self.model, "iwae_bound"):
            raise UsageError(f"a likelihood bound needs a vae run; this run is {self.config.model.family!r}")
        return self.model

    def elbo(self, x, samples: int = 1) -> np.ndarray:
        """(N,) evidence lower bound on log p(x) per example, in nats (model units; vae runs)."""
        vae = self.require_vae()
        return self.map_batches(lambda t: vae.elbo(t, samples), self.to_model(x), 256).numpy()

    def iwae(self, x, k: int = 100) -> np.ndarray:
        """(N,) importance-weighted bound on log p(x) with k samples (Burda et al. 2016), in nats
        (model units; vae runs). At least as tight as the ELBO on average; -iwae estimates the NLL."""
        if k < 1:
            raise UsageError(f"k = {k} importance samples; expected at least 1 (100 or more for a tight bound)")
        vae = self.require_vae()
        return self.map_batches(lambda t: vae.iwae_bound(t, k), self.to_model(x), 64).numpy()

    def evaluate(self, x) -> dict[str, float]:
        """Mean loss parts on `x` (model units), e.g. {"loss", "recon", ...}."""
        return evaluate(self.model, self.to_model(x))

    # --- what the recipe, the CLI and reports ask of a kind of run ---------------------------------
    @classmethod
    def build_module(cls, config: RunConfig, normalizer: Normalizer) -> torch.nn.Module:
        if config.model.family not in MODELS:
            raise ValueError(f"unknown model family {config.model.family!r}; expected one of {', '.join(MODELS)}")
        info = config.data_info
        return build_model(config.model, info["kind"], tuple(info["shape"]), normalizer.model_range)

    def next_commands(self) -> list[str]:
        recon = "--out recon.png" if self.kind == "image" else "--out recon.npy"
        path = quote(str(self.path))
        lines = [f"aegan report {path}        # curves, reconstructions, latent map in one HTML page",
                 f"aegan evaluate {path}      # test MSE/PSNR, probe accuracies (and bounds for a VAE)",
                 f"aegan reconstruct {path} --data {quote(self.config.data.data)} {recon}"]
        if self.can_compress and self.kind == "image":
            lines.append(f"aegan compress {path} --data {quote(self.config.data.data)} --out images.aegz")
        return lines

    def describe(self) -> list[tuple[str, str]]:
        m = self.config.model
        detail = {"dae": f", {m.noise} noise {m.noise_level}", "sparse": f", weight {m.sparsity}",
                  "vae": f", beta {m.beta}, {m.likelihood} likelihood",
                  "vqvae": f", {m.code_dim // m.vq_dim} vectors of {m.vq_dim} from {m.codebook_size} entries, "
                           f"commitment {m.commitment}"}.get(m.family, "")
        sizes = f"hidden {','.join(map(str, m.hidden))}" if m.arch == "mlp" else \
            f"channels {','.join(map(str, m.conv_channels))}"
        preset = f", preset {self.config.preset}" if self.config.preset else ""
        return [("model", f"{m.family} ({MODELS[m.family].description}{detail})"),
                ("body", f"{m.arch}, {sizes}, code {m.code_dim}{preset}")]

    def evaluation(self, n: int, features: str | None, seed: int) -> dict:
        return evaluate_autoencoder(self, n, seed)

    def report_sections(self) -> list[Section]:
        sections = []
        pics = self.epoch_pictures("recon")
        if pics:
            sections.append(Section("Reconstructions over the epochs", pics, "inputs above, reconstructions below"))
        try:
            ds = self.dataset("test")
        except AeganError as e:  # the data may live elsewhere now: say so, show the rest
            return sections + [Section("Latent map", [], f"left out: the test data could not be read ({e})")]
        sub = ds.subset(np.arange(min(MAP_POINTS, len(ds))))
        z = self.encode(sub)  # (n, code_dim), shared by the map and the traversal
        sections.append(Section("Latent map", [Figure(self._latent_map(sub, z), "test codes coloured by label",
                                                      keep="latent_map.png")]))
        if self.kind == "image":
            sections.append(Section("Decoded traversal", [Figure(
                self._traversal(z), "decoded codes along the two main directions, -2 to +2 sd",
                keep="traversal.png")]))
        return sections

    def _latent_map(self, sub: Dataset, z: np.ndarray):
        """Test codes in 2-D (the code itself when 2-D, else its first two principal components)."""
        how = "code"
        if z.shape[1] > 2:
            from sklearn.decomposition import PCA  # heavy: only when a report is made
            z = PCA(2, random_state=0).fit_transform(z)
            how = f"PCA of the {self.code_dim}-D code"
        elif z.shape[1] == 1:
            z = np.concatenate([z, np.zeros_like(z)], 1)
        return latent_map_figure(z, sub.y, sub.classes, f"{len(sub)} test examples: {how}")

    def _traversal(self, z: np.ndarray, steps: int = 8):
        """Decoded codes on a grid over the two main directions of the test codes (mean +- 2 sd)."""
        mean = z.mean(0)
        if z.shape[1] >= 2:
            _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
            dirs = vt[:2] * (s[:2, None] / np.sqrt(len(z)))  # one standard deviation along each
        else:
            dirs = np.array([[z.std()], [0.0]])
        t = np.linspace(-2, 2, steps)
        grid = np.array([mean + a * dirs[0] + b * dirs[1] for b in t for a in t], dtype=np.float32)
        return grid_image(self.normalizer.to_unit_pixels(self.decode(grid)), nrow=steps)


def prepare(ds: Dataset, config: RunConfig, accel: Accel) -> Job:
    """Normalise, build the model, hold out the validation part; the loop is train_on_loss."""
    validate_autoencoder(config.model)
    tc = config.train
    config = dataclasses.replace(config, model=resolve_sizes(config.model, ds.kind, ds.shape))
    normalizer = Normalizer.fit(ds.x, ds.kind, config.data.normalize)
    model = build_model(config.model, ds.kind, ds.shape, normalizer.model_range).to(accel.device)
    x_val, x_train = split_feed(training_feed(ds, normalizer, tc, accel), tc)
    config = dataclasses.replace(config, data_info=data_info(ds, normalizer), aegan_version=__version__)
    run = AutoencoderRun(config, model, normalizer)
    opt = make_optimizer(model.parameters(), tc.lr, weight_decay=tc.weight_decay)
    show = shown_examples(x_val, x_train, GRID_EXAMPLES)

    def pictures(record: dict, path) -> dict:
        if ds.kind != "image":
            return {}
        model.eval()
        grid = run.reconstruction_grid(show)
        model.train()
        save_png(path / f"recon_epoch{record['epoch']:03d}.png", grid)
        save_png(path / "recon.png", grid)
        return {"reconstructions": grid}

    def train(ctl, on_epoch, progress):
        return train_on_loss(model, x_train, x_val, tc, opt=opt, on_epoch=on_epoch, progress=progress,
                             control=ctl, accel=accel)

    return Job(run, train, lambda: {"optimizer": opt.state_dict()}, pictures)


RUN_CLASS = AutoencoderRun  # what runs/tasks.py finds here, with `prepare`
