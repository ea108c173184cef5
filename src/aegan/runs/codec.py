"""The codec kind of run: a learned image codec (models/codec.py) and the .aegz files it writes
and reads (aegz.py: the container, coding.py: the range coder). Trained by the driver's
single-loss loop on lambda * 255^2 * distortion + bits per pixel, then fine-tuned for a few
thousand steps on rounded latents (finetune_rounded); after training (and at each epoch's
checkpoint) the integer coding tables are built from the learned densities and saved with the
weights."""

from __future__ import annotations

import copy
import dataclasses
import math
import signal
import time
from shlex import quote

import numpy as np
import torch

from .. import checkpoint, distributed
from ..accel import Accel
from ..config import RunConfig
from ..data import Dataset, Normalizer
from ..errors import DataError, RunError
from ..models.codec import Codec, default_stages
from ..optim import descend, make_optimizer
from ..train import Interrupted, evaluate, interruptible, stop_name, train_on_loss
from ..version import __version__
from ..viz import reconstruction_grid, save_png
from .base import Job, RunBase, Section, data_info
from .coded_files import CodedFiles
from .recipe import shown_examples, split_feed, training_feed

GRID_EXAMPLES = 16  # examples in the per-epoch picture
FINETUNE_STEPS = 4000  # the phase's default length, at most (a quarter of the training's batches below that)
FINETUNE_LR = 0.02  # the fine-tuning phase's learning rate, as a fraction of --lr (2e-5 at the default 1e-3)

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
        steps = config.model.finetune_steps
        if steps is None:  # a quarter of the training's batches, at most FINETUNE_STEPS
            steps = min(FINETUNE_STEPS, tc.epochs * math.ceil(len(x_train) / tc.batch_size) // 4)
        record = finetune_rounded(codec, x_train, x_val, steps, tc, accel, ctl)
        if record is not None:
            record = {"epoch": history[-1]["epoch"] if history else 0, **record}
            history.append(record)
            if run.path is not None and distributed.is_main():
                checkpoint.append_jsonl(run.path / checkpoint.METRICS, record)
            if progress and distributed.is_main():
                print(finetune_line(record), flush=True)
        codec.build_tables()
        return history

    return Job(run, train, lambda: {"optimizer": opt.state_dict()}, pictures,
               annotate=lambda record: codec.build_tables())


def finetune_rounded(codec: Codec, x_train, x_val, steps: int, tc, accel: Accel, ctl) -> dict | None:
    """The "soft then hard" phase of Guo et al. (2021): training measures the rate on latents with
    uniform noise, which overstates what the rounded latents of a file cost (at lambda 0.001 on
    Fashion-MNIST, 0.63 bits per pixel in the last epoch against 0.37 rounded). With the analysis
    transforms frozen, `steps` batches of the rate-distortion loss on rounded latents (eval mode:
    what a file holds) fit the synthesis transform and the entropy models to them, at FINETUNE_LR
    of --lr. Kept only if the validation loss (on rounded latents) falls; a record of the phase
    (train_* means, val_* after, val_loss_before), or None when there is nothing to do."""
    if steps <= 0 or len(x_train) < tc.batch_size:
        return None
    frozen = [codec.g_a] + ([codec.h_a] if codec.hyper else [])
    for m in frozen:
        m.requires_grad_(False)
    params = [p for p in codec.parameters() if p.requires_grad]
    opt = make_optimizer(params, tc.lr * FINETUNE_LR)
    draw = torch.Generator().manual_seed(tc.seed + 1)  # the same batches on every process
    before = evaluate(codec, x_val, accel=accel) if x_val is not None else None
    kept = copy.deepcopy(codec.state_dict())
    sums: dict[str, torch.Tensor] = {}  # summed on the device: no synchronisation per step
    start = time.perf_counter()
    codec.eval()  # rounding, as in a file
    try:
        with interruptible(ctl):
            for i in range(steps):
                if distributed.any_flag(ctl.stop_signal is not None):  # every process stops here
                    codec.load_state_dict(kept)  # the folder's weights: the last epoch's, as saved
                    _stopped(ctl, i, steps)
                idx = torch.randint(len(x_train), (tc.batch_size,), generator=draw)
                out = codec.loss(x_train.take(distributed.shard(idx))[0])
                descend(opt, out["loss"], params, ctl.grad_clip, what="fine-tuning loss")
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + v.detach().float()
    finally:
        codec.train()
        for m in frozen:
            m.requires_grad_(True)
    record = {"phase": "finetune-rounded", "finetune_steps": steps,
              **{f"train_{k}": float(v) / steps for k, v in sums.items()}}
    if before is not None:
        after = evaluate(codec, x_val, accel=accel)
        if after["loss"] > before["loss"]:  # no better on held-out images: the trained weights stay
            codec.load_state_dict(kept)
            after = before
        record.update({f"val_{k}": v for k, v in after.items()})
        record["val_loss_before"] = before["loss"]
    record["seconds"] = time.perf_counter() - start
    return record


def _stopped(ctl, step: int, steps: int) -> None:
    """SIGINT or SIGTERM during the phase: it is dropped (the run folder keeps the last epoch's weights
    and checkpoint), and `aegan train --resume` runs it again from its start, as an uninterrupted
    run would have."""
    name, code = stop_name(ctl.stop_signal or signal.SIGTERM)  # SIGTERM: another process's stop (torchrun)
    raise Interrupted(f"stopped by {name} at step {step} of {steps} of the last phase on rounded latents, which "
                      "is dropped: the run folder keeps the weights of the last epoch", code)


def finetune_line(record: dict) -> str:
    if "val_loss_before" not in record:
        return f"fine-tuned on rounded latents: {record['finetune_steps']} steps (no validation images to check it on)"
    return (f"fine-tuned on rounded latents: {record['finetune_steps']} steps, validation loss "
            f"{record['val_loss_before']:.4g} -> {record['val_loss']:.4g} ({record['val_bpp']:.3f} bits per pixel, "
            f"{record['val_psnr']:.2f} dB), {record['seconds']:.0f} s")


RUN_CLASS = CodecRun  # what runs/tasks.py finds here, with `prepare`

