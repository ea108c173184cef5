"""The GAN kind of run: the trained run (sample, interpolate), its training loop (the D step on
detached fakes, then the G step, around the driver), how it is prepared for the fit recipe, and
what `aegan info`, `evaluate` and `report` show of it."""

from __future__ import annotations

import dataclasses
import math
import sys
from shlex import quote

import numpy as np
import torch
from torch import nn

from .. import distributed
from ..accel import Accel
from ..config import RunConfig
from ..data import Dataset, Normalizer
from ..errors import UsageError
from ..evaluation import STACKED, evaluate_gan
from .. import losses
from ..metrics import mode_stats
from ..models.gan import build_gan
from ..optim import LR_SCHEDULES, descend, make_optimizer, set_lr
from ..train import Control, drive, fresh_state
from ..version import __version__
from ..viz import grid_image, save_png, toy_scatter
from .base import Figure, Job, RunBase, Section, data_info
from .classifier import SHIPPED
from .recipe import training_feed

MODE_SAMPLES = 2500  # the PacGAN protocol's sample count


def fresh_seed() -> int:
    """A seed nobody chose: fresh samples each call."""
    return int(np.random.SeedSequence().entropy % (2**63))


class GANRun(RunBase):
    """A trained GAN. `sample` returns numpy arrays in the data's own units."""

    label = "gan"
    commands = "aegan sample and interpolate take GAN runs"

    gan = property(lambda self: self.module, doc="the GAN: generator, discriminator, EMA generator")

    @property
    def classes(self) -> list[str] | None:
        return self.config.data_info.get("classes")

    @property
    def title(self) -> str:
        return f"gan {self.config.model.loss}/{self.config.model.arch}"

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

    def sample_model(self, n: int, label: int | None = None, seed: int | None = None,
                     z: torch.Tensor | None = None) -> torch.Tensor:
        """(n, *shape) samples in model units; `seed`: the same seed gives the same samples, None
        fresh ones each call."""
        if n < 1:
            raise UsageError(f"-n {n}: expected at least 1 sample")
        gen = torch.Generator().manual_seed(fresh_seed() if seed is None else seed)
        z = self.gan.noise(n, gen) if z is None else z
        labels = self._labels(n, label, gen)
        dev = self.device
        chunks = [self.gan.sample(len(z[i:i + 512]), None if labels is None else labels[i:i + 512].to(dev),
                                  z=z[i:i + 512].to(dev)).float().cpu()
                  for i in range(0, len(z), 512)]
        return torch.cat(chunks)

    def sample(self, n: int, label: int | None = None, seed: int | None = None) -> np.ndarray:
        """(n, *shape) samples in the data's own units (image pixels in [0, 1]); the same seed gives
        the same samples, None (the default) fresh ones each call."""
        return self.normalizer.inverse(self.sample_model(n, label, seed))

    def interpolate(self, steps: int = 8, rows: int = 1, seed: int | None = None,
                    label: int | None = None) -> np.ndarray:
        """(rows * steps, *shape): for each row, samples along a straight line between two noise
        vectors (drawn with `seed`; None: fresh ones)."""
        if steps < 2:
            raise UsageError(f"--steps {steps}: expected at least 2")
        seed = fresh_seed() if seed is None else seed
        gen = torch.Generator().manual_seed(seed)
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

    def mode_stats(self, n: int = MODE_SAMPLES, seed: int | None = 0) -> dict | None:
        info = self.config.data_info
        if "modes" not in info:
            return None
        return mode_stats(self.sample(n, seed=seed), np.asarray(info["modes"]), info["mode_std"])

    # --- what the recipe, the CLI and reports ask of a kind of run ---------------------------------
    @classmethod
    def build_module(cls, config: RunConfig, normalizer: Normalizer) -> torch.nn.Module:
        info = config.data_info
        model = config.model
        if model.kernel is None:  # saved before --kernel existed: aegan 0.1's kernel-3 layout
            model = dataclasses.replace(model, kernel=3)
        return build_gan(model, info["kind"], tuple(info["shape"]), normalizer.model_range,
                         info.get("num_classes"))

    @staticmethod
    def shown_metric(key: str, value) -> bool:
        return isinstance(value, (int, float)) and key not in ("epoch", "step", "seconds", "mode_num_modes")

    def next_commands(self) -> list[str]:
        ext = "png" if self.kind == "image" else "npy"
        path = quote(str(self.path))
        out = [f"aegan report {path}        # curves, samples over the epochs, interpolation in one HTML page",
               f"aegan sample {path} -n 64 --out samples.{ext}"]
        name = self.config.data_info.get("name", "")
        if "modes" in self.config.data_info:
            out.append(f"aegan evaluate {path}      # modes captured, % high quality")
        elif name == STACKED:
            out.append(f"aegan evaluate {path}      # modes captured of the 1000 class triples, beside real stacks")
        elif self.kind == "image" and name and (SHIPPED / name / "config.json").is_file():
            out.append(f"aegan evaluate {path}      # FCD, KID, precision/recall beside the real-vs-real floor")
        elif self.kind == "image":
            data = quote(self.config.data.data)
            out.append(f"# sample metrics need a feature network for this data: aegan train classifier --data {data} "
                       f"--out FEATURES, then aegan evaluate {path} --features FEATURES")
        return out

    def describe(self) -> list[tuple[str, str]]:
        m = self.config.model
        sizes = f"hidden {','.join(map(str, m.hidden))}" if m.arch == "mlp" else \
            f"channels {','.join(map(str, m.conv_channels))}"
        preset = f", preset {self.config.preset}" if self.config.preset else ""
        return [("model", f"gan, loss {m.loss} ({self.gan.loss.paper}), n_critic {m.n_critic}, EMA {m.ema or 'off'}, "
                          f"pack {m.pack}" + (f", conditional (AC-GAN head weight {m.aux_weight or 0}, class norms "
                                              f"{'on' if m.class_norm else 'off'})" if m.conditional else "")),
                ("body", f"{m.arch}, {sizes}, z {m.z_dim}{preset}")]

    def learning_rates(self) -> str:
        m = self.config.model
        return f"lr G {m.lr_g} D {m.lr_d} ({m.lr_decay or 'constant'})"

    def evaluation(self, n: int, features: str | None, seed: int) -> dict:
        return evaluate_gan(self, n, features, seed)

    def report_sections(self) -> list[Section]:
        if self.kind != "image":
            samples = self.path / "samples.png"
            return [Section("Samples over the modes", [Figure(samples, "samples.png")])] if samples.is_file() else []
        sections = []
        pics = self.epoch_pictures("samples")
        if pics:
            sections.append(Section("Samples over the epochs", pics))
        title = "one row per class" if self.gan.num_classes else "64 samples"
        strip = self.interpolate(steps=10, rows=4, seed=0)
        return sections + [
            Section("Samples", [Figure(self.sample_grid(), title)]),
            Section("Latent interpolation", [Figure(grid_image(self.normalizer.to_unit_pixels(strip), nrow=10),
                                                    "straight lines between noise vectors", keep="interpolation.png")])]


def make_gan_optimizers(gan) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """G's and D's optimisers with the settings of the (resolved) config and its loss's paper."""
    cfg, kind = gan.cfg, gan.loss.optimizer
    return (make_optimizer(gan.generator.parameters(), cfg.lr_g, cfg.betas_g, kind=kind),
            make_optimizer(gan.discriminator.parameters(), cfg.lr_d, cfg.betas_d, kind=kind))


def train_gan(gan, feed, tc, *, opts=None, on_epoch=None, progress: bool = True, control: Control | None = None,
              accel: Accel | None = None) -> list[dict]:
    """One loop for every GAN loss: per batch a D step on detached fakes, and every n_critic-th
    batch a G step on fresh noise, then the EMA update. An epoch is one pass of D over the data.
    `feed` gives (real, labels) batches in model units (data/feed.py)."""
    cfg, spec = gan.cfg, gan.loss
    d_loss_fn, g_loss_fn = getattr(losses, spec.d), getattr(losses, spec.g)
    ctl = control or Control()
    accel = accel or Accel()
    accel.place(gan)
    G, D = gan.generator, gan.discriminator
    opt_g, opt_d = opts if opts is not None else make_gan_optimizers(gan)
    scaler_g, scaler_d = accel.scaler(), accel.scaler()
    # torch.compile has no double backward, which the gradient penalty needs: D stays eager then
    G_step = accel.compiled(G)
    D_step = D if cfg.gp_weight or cfg.r1 else accel.compiled(D)
    dev = accel.device
    schedule = LR_SCHEDULES[cfg.lr_decay or "constant"]
    base_lr = [cfg.lr_g, cfg.lr_d]
    total = tc.epochs * math.ceil(len(feed) / tc.batch_size)
    g_params, d_params = list(G.parameters()), list(D.parameters())
    # the noise generator is the driver's batch-order generator, so that resume replays both
    noise: dict = {}
    aux = cfg.aux_weight if gan.num_classes else 0.0

    def step(batch, st):
        real, labels = batch
        n = len(real)
        set_lr((opt_g, opt_d), base_lr, schedule(st["done"] / total) * st["lr_scale"])
        st["done"] += 1
        if distributed.any_flag(n % cfg.pack > 0 or n < 2 * cfg.pack):
            return {}  # a short last batch that packing cannot split (on any process)
        gen = noise["gen"]  # a CPU generator: the same noise on every device, replayed on resume
        labels = labels if gan.num_classes else None
        if cfg.r1:
            real = real.detach().requires_grad_(True)
        with accel.autocast():
            fake = G_step(torch.randn(n, cfg.z_dim, generator=gen).to(dev), labels)
            if aux:  # AC-GAN: D also learns the class of real images
                d_real, c_real = D_step(real, labels, classes=True)
                d_aux = nn.functional.cross_entropy(c_real.float(), labels)
            else:
                d_real, d_aux = D_step(real, labels), 0.0
            d_fake = D_step(fake.detach(), labels)
            d_loss = d_loss_fn(d_real.float(), d_fake.float()) + aux * d_aux
        if cfg.gp_weight:  # in fp32: a second-order gradient under autocast is not worth the risk
            d_loss = d_loss + cfg.gp_weight * losses.gradient_penalty(lambda t: D(t, labels), real,
                                                               fake.detach().float(), gen)
        if cfg.r1:
            d_loss = d_loss + cfg.r1 / 2 * losses.r1_penalty(d_real.float(), real)
        descend(opt_d, d_loss, d_params, ctl.grad_clip, "discriminator loss", scaler_d)
        if cfg.clip:
            with torch.no_grad():
                for p in d_params:
                    p.clamp_(-cfg.clip, cfg.clip)
        out = {"d_loss": (d_loss.detach().float(), 1), "d_real": (d_real.detach().float().mean(), 1),
               "d_fake": (d_fake.detach().float().mean(), 1)}
        st["n_d"] += 1
        if st["n_d"] % cfg.n_critic == 0:
            with accel.autocast():
                fake = G_step(torch.randn(n, cfg.z_dim, generator=gen).to(dev), labels)
                if aux:  # and G to make samples D puts in the class they were asked for
                    d_out, c_fake = D_step(fake, labels, classes=True)
                    g_loss = g_loss_fn(d_out.float()) + aux * nn.functional.cross_entropy(c_fake.float(), labels)
                else:
                    g_loss = g_loss_fn(D_step(fake, labels).float())
            descend(opt_g, g_loss, g_params, ctl.grad_clip, "generator loss", scaler_g)
            gan.update_ema()
            st["step"] += 1
            out["g_loss"] = (g_loss.detach().float(), 1)
        return out

    def end_epoch(st, means, seconds):
        gan.recalibrate_ema()
        record = {"epoch": st["epoch"], "step": st["step"], "d_loss": means.get("d_loss", 0.0),
                  "g_loss": means.get("g_loss", 0.0), "d_real": means.get("d_real", 0.0),
                  "d_fake": means.get("d_fake", 0.0), "seconds": seconds}
        if on_epoch is not None:
            on_epoch(record)
        G.train()
        D.train()
        return record, False

    history = drive(gan, [opt_g, opt_d], feed, tc, ctl, fresh_state(done=0, n_d=0), step, end_epoch, progress,
                    accel, noise=noise, scalers=[scaler_g, scaler_d])
    G.eval()
    return history


def d_wins(gan, record: dict) -> bool:
    """Whether D won outright over an epoch: its mean loss at the floor its loss allows."""
    floor = gan.loss.d_wins_below
    return floor is not None and record["d_loss"] < floor and record.get("g_loss", 0.0) > 0


def prepare(ds: Dataset, config: RunConfig, accel: Accel) -> Job:
    """The loss's paper settings filled in, pixels in [-1, 1] (tanh generators), G and D built."""
    tc = config.train
    target = config.data.normalize
    if target == "auto":
        target = "symmetric" if ds.kind == "image" else "standard"
    normalizer = Normalizer.fit(ds.x, ds.kind, target)
    num_classes = ds.num_classes if ds.y is not None else None
    gan = build_gan(config.model, ds.kind, ds.shape, normalizer.model_range,
                    num_classes if config.model.conditional else None, tc.batch_size).to(accel.device)
    cfg = gan.cfg
    feed = training_feed(ds, normalizer, tc, accel, labels=True)
    modes = {k: ds.extra[k] for k in ("modes", "mode_std") if k in ds.extra}
    info = data_info(ds, normalizer, num_classes=num_classes if cfg.conditional else None, **modes)
    config = dataclasses.replace(config, task="gan", model=cfg, data_info=info, aegan_version=__version__)
    run = GANRun(config, gan, normalizer)
    opts = make_gan_optimizers(gan)

    warned = []

    def annotate(record: dict) -> None:
        stats = run.mode_stats()
        if stats is not None:
            record.update({f"mode_{k}": v for k, v in stats.items()})
        if not warned and d_wins(gan, record) and distributed.is_main():
            warned.append(record["epoch"])
            print(f"aegan: warning: the discriminator wins outright (mean D loss {record['d_loss']:.3g} in epoch "
                  f"{record['epoch']}): the generator gets no useful gradient and its samples stop improving. "
                  f"With {len(ds)} examples, try more data (or flipped/shifted copies of it), a smaller D "
                  "(--conv-channels 32,64,128 or --hidden 64,64), fewer epochs, or --loss hinge", file=sys.stderr)

    def pictures(record: dict, path) -> dict:
        name = f"samples_epoch{record['epoch']:03d}.png"
        if ds.kind == "image":
            grid = run.sample_grid()
            save_png(path / name, grid)
            save_png(path / "samples.png", grid)
            return {"samples": grid}
        if "modes" in info or ds.shape == (2,):
            centers = np.asarray(info["modes"]) if "modes" in info else None
            title = (f"epoch {record['epoch']}: {record['mode_modes']}/{record['mode_num_modes']} modes, "
                     f"{100 * record['mode_high_quality']:.1f}% high quality" if "mode_modes" in record
                     else f"epoch {record['epoch']}")
            pts = run.sample(MODE_SAMPLES, seed=0)
            toy_scatter(pts, centers, path / name, title)
            toy_scatter(pts, centers, path / "samples.png", title)
        return {}

    def train(ctl, on_epoch, progress):
        return train_gan(gan, feed, tc, opts=opts, on_epoch=on_epoch, progress=progress, control=ctl, accel=accel)

    return Job(run, train, lambda: {"optimizer_g": opts[0].state_dict(), "optimizer_d": opts[1].state_dict()},
               pictures, annotate)


RUN_CLASS = GANRun  # what runs/tasks.py finds here, with `prepare`
