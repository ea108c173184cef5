"""The codec kind of run: a learned image codec (models/codec.py) and the .aegz files it writes
and reads (aegz.py: the container, coding.py: the range coder). Trained by the driver's
single-loss loop on lambda * 255^2 * distortion + bits per pixel; after training (and at each
epoch's checkpoint) the integer coding tables are built from the learned densities and saved
with the weights."""

from __future__ import annotations

import dataclasses
import math
from shlex import quote

import numpy as np
import torch

from ..accel import Accel
from ..config import RunConfig
from ..data import Dataset, Normalizer
from ..errors import DataError, RunError
from ..models.codec import Codec, default_stages
from ..optim import make_optimizer
from ..train import train_on_loss
from ..version import __version__
from ..viz import reconstruction_grid, save_png
from .base import Job, RunBase, Section, data_info
from .coded_files import CodedFiles
from .recipe import shown_examples, split_feed, training_feed

GRID_EXAMPLES = 16  # examples in the per-epoch picture

class CodecRun(CodedFiles, RunBase):
    """A trained codec: `compress` images into .aegz bytes, `decompress` them back."""

    label = "codec"
    refines = True  # aegan compress --refine
    commands = "compress images with 'aegan compress RUN --data ... --out images.aegz'"

    codec = property(lambda self: self.module, doc="the codec network")

    @property
    def title(self) -> str:
        m = self.config.model
        return f"codec ({m.prior}, lambda {m.lmbda:g}, {m.distortion})"

    @classmethod
    def build_module(cls, config: RunConfig, normalizer: Normalizer) -> torch.nn.Module:
        return Codec(config.model, tuple(config.data_info["shape"]))

    def check_compressible(self) -> None:
        if not self.codec.tables_built:
            raise RunError(f"{self.path or 'this codec'} has no coding tables (it was saved before its first epoch "
                           "ended); train it for at least one epoch")

    def encode_chunk(self, t: torch.Tensor, refine: int = 0) -> list:
        return self.codec.encode(t, refine)

    def decode_chunk(self, n: int, next_symbols) -> torch.Tensor:
        return self.codec.decode(n, next_symbols)

    # --- what it says about itself --------------------------------------------------------------
    @staticmethod
    def shown_metric(key: str, value) -> bool:
        return isinstance(value, float) and key.startswith("val_") and key.split("_", 1)[1] in ("loss", "bpp", "psnr")

    def next_commands(self) -> list[str]:
        path = quote(str(self.path))
        data = quote(self.config.data.data)
        return [f"aegan compress {path} --data {data} --out images.aegz",
                f"aegan decompress images.aegz --run {path} --out decoded.png",
                f"aegan evaluate {path}        # bytes per image and PSNR on the test split"]

    def describe(self) -> list[tuple[str, str]]:
        m, c = self.config.model, self.codec
        return [("model", self.title),
                ("transforms", f"{m.stages} stride-2 stages, {m.blocks} extra conv + GDN per stage, "
                               f"{m.hidden_channels} channels; latent "
                               f"{'x'.join(map(str, c.latent_shape))}"
                               + (f", side information {'x'.join(map(str, c.side_shape))}" if c.hyper else "")),
                ("tables", "coding tables built" if c.tables_built else "coding tables not built yet")]

    def report_sections(self) -> list[Section]:
        pics = self.epoch_pictures("recon")
        return [Section("Decoded images over the epochs", pics, "inputs above, what their files decode to below")] \
            if pics else []

    def evaluation(self, n: int, features: str | None, seed: int) -> dict:
        """Bytes per image of one .aegz file of the first n test images (headers included), and its PSNR."""
        from ..losses import ms_ssim
        ds = self.dataset("test")
        sub = ds.subset(np.arange(min(n, len(ds))))
        data = self.compress(sub)
        back = self.decompress(data)
        x, y = self.to_model(sub), self.to_model(back)  # the codec's model units: pixels in [0, 1]
        mse = float(((x - y) ** 2).mean())
        return {"n": len(sub),
                "bytes_per_image": {"value": len(data) / len(sub), "file_bytes": len(data), "headers": "included"},
                "bits_per_pixel": {"value": 8 * len(data) / len(sub) / math.prod(self.shape[1:])},
                "psnr": {"value": 10 * math.log10(1 / max(mse, 1e-12)), "unit": "dB, pixels in [0, 1]"},
                "ms_ssim": {"value": float(ms_ssim(y, x).mean())}}


def prepare(ds: Dataset, config: RunConfig, accel: Accel) -> Job:
    """Pixels in [0, 1]; the loop is train_on_loss; the tables are built at every epoch's end
    (before its checkpoint) and once more after training (early stopping may restore weights)."""
    if ds.kind != "image":
        raise DataError(f"a codec needs images; {ds.name} is a table of {math.prod(ds.shape)} columns")
    stages = config.model.stages or default_stages(*ds.shape[1:])
    if min(ds.shape[1:]) < 2 ** stages:
        raise DataError(f"images of {ds.shape[1]} x {ds.shape[2]} are too small for --stages {stages} "
                        f"(at least {2 ** stages} pixels a side); use fewer stages")
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, stages=stages))  # saved as used
    tc = config.train
    normalizer = Normalizer.fit(ds.x, ds.kind, "unit")
    codec = Codec(config.model, ds.shape).to(accel.device)
    x_val, x_train = split_feed(training_feed(ds, normalizer, tc, accel), tc)
    config = dataclasses.replace(config, data_info=data_info(ds, normalizer), aegan_version=__version__)
    run = CodecRun(config, codec, normalizer)
    opt = make_optimizer(codec.parameters(), tc.lr, weight_decay=tc.weight_decay)

    show = shown_examples(x_val, x_train, GRID_EXAMPLES)

    def pictures(record: dict, path) -> dict:
        """Inputs above, what a file of them decodes to below (quantised latents), each epoch."""
        codec.eval()
        with torch.no_grad():
            rec = codec(show.to(accel.device))[0].clamp(0, 1)  # eval mode: the latents rounded
        codec.train()
        grid = reconstruction_grid(show.cpu(), rec.cpu(), nrow=8)
        save_png(path / f"recon_epoch{record['epoch']:03d}.png", grid)
        save_png(path / "recon.png", grid)
        return {"reconstructions": grid}

    def train(ctl, on_epoch, progress):
        history = train_on_loss(codec, x_train, x_val, tc, opt=opt, schedule="step", on_epoch=on_epoch,
                                progress=progress, control=ctl, accel=accel)
        codec.build_tables()
        return history

    return Job(run, train, lambda: {"optimizer": opt.state_dict()}, pictures,
               annotate=lambda record: codec.build_tables())


RUN_CLASS = CodecRun  # what runs/tasks.py finds here, with `prepare`

