"""The one fit recipe every kind of run goes through: validate, subsample, let the kind prepare
its network and data (normalise, build, split), open the folder (or resume it), train through
the driver, write the per-epoch records and pictures, save. A kind of run passes in what differs
(runs/base.py: Job); none copies this."""

from __future__ import annotations

import dataclasses
import os
import platform
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import checkpoint, distributed
from ..accel import Accel
from ..config import RunConfig
from ..config_checks import validate_train
from ..data import DATASETS, Dataset, Normalizer, is_streamed
from ..data.location import location_of
from ..data.feed import StreamFeed, TensorFeed
from ..errors import DataError, RunError, UsageError
from ..tb_log import TensorBoardLog
from ..train import Control, Interrupted
from ..viz import loss_curves
from .base import Job, RunBase


def fit_run(prepare: Callable[[Dataset, RunConfig, Accel], Job], ds: Dataset, config: RunConfig,
            out: str | Path | None = None, *, overwrite: bool = False, progress: bool = True,
            resume: bool = False, observe: Callable[[dict, RunBase], None] | None = None,
            checks_per_epoch: int = 1) -> RunBase:
    """Train the run `prepare` makes of `config` on `ds`; with `out`, write a run folder as it goes
    (with `resume`, continue the one there from its newest checkpoint). `observe(record, run)` sees
    each epoch's record once it is kept (and written); an exception it raises ends training
    there (aegan tune prunes a trial so). With `checks_per_epoch` k > 1, kinds trained on one loss
    also give `observe` a partial record k - 1 times within each epoch (train_* means so far and
    the val_* numbers then, "epoch" and its "fraction" done); training is the same either way."""
    validate_train(config.train)
    threads = config.train.threads or env_threads() or torch.get_num_threads()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)  # weights depend on it: recorded, and used again on resume
    try:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, threads=threads))
        return _fit(prepare, ds, config, out, overwrite, progress, resume, observe, checks_per_epoch)
    finally:
        torch.set_num_threads(before)


def env_threads() -> int | None:
    """$AEGAN_THREADS, checked."""
    text = os.environ.get("AEGAN_THREADS", "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"AEGAN_THREADS={text!r}; expected a number of threads, at least 1 (or unset it)")
    return int(text)


def _fit(prepare, ds: Dataset, config: RunConfig, out, overwrite: bool, progress: bool, resume: bool,
         observe, checks_per_epoch: int) -> RunBase:
    tc = config.train
    accel = Accel.from_config(tc)
    torch.manual_seed(tc.seed)
    job = prepare(subsample(ds, tc), config, accel)
    run = job.run
    location = location_of(config.data, config.data.data in DATASETS)
    if location is not None:  # found again from any folder (data/location.py)
        run.config.data_info["location"] = location
    run.path, ctl, history, tb = open_training(out, overwrite, resume, run.config, run.module, progress)
    if observe is not None:
        ctl.checks_per_epoch, ctl.on_check = checks_per_epoch, lambda record: observe(record, run)

    def on_epoch(record: dict) -> None:
        if job.annotate is not None:
            job.annotate(record)
        history.append(record)
        if run.path is not None:
            checkpoint.append_jsonl(run.path / checkpoint.METRICS, record)
            checkpoint.save_weights(run.path / checkpoint.WEIGHTS, run.module)
            pictures = job.pictures(record, run.path) if job.pictures is not None else {}
            loss_curves(history, run.path / "loss.png", title=run.title)
            tb.epoch(record, pictures)
        if observe is not None:
            observe(record, run)

    with finishing(run.path, tb):
        run.history = job.train(ctl, on_epoch, progress)
    accel.release(run.module)
    if run.path is not None:
        checkpoint.save_weights(run.path / checkpoint.WEIGHTS, run.module)  # the best weights, if restored
        # last: the mark of a finished training, phases after the epochs included (cli/train.py: cmd_resume)
        checkpoint.save_state(run.path / checkpoint.STATE, {
            **job.final_state(), "torch_rng": torch.get_rng_state(), "python": platform.python_version(),
            "torch": str(torch.__version__)})
    run.module.eval()
    return run


def subsample(ds: Dataset, tc) -> Dataset:
    """At most tc.max_samples examples, picked by a permutation of tc.seed (order kept)."""
    if tc.max_samples is None or tc.max_samples >= len(ds):
        return ds
    return ds.subset(np.sort(np.random.default_rng(tc.seed).permutation(len(ds))[:tc.max_samples]))


def validation_size(n: int, tc) -> int:
    """How many of n training examples are held out for validation (none for fewer than 10)."""
    return int(round(n * tc.val_split)) if n >= 10 else 0


def fitted_size(n: int, tc) -> int:
    """How many of n given examples a run of `tc` takes its steps on: subsampled, less validation."""
    n = n if tc.max_samples is None else min(n, tc.max_samples)
    return n - validation_size(n, tc)


def check_one_batch(n: int, tc, flag: str = "--batch-size") -> None:
    """Refuse to fit on fewer examples than one batch (a handful of steps learn next to nothing),
    naming the setting as the caller knows it: --batch-size on the command line, batch_size in Python."""
    n_fit = fitted_size(n, tc)
    if n_fit < tc.batch_size:
        shown = f"{flag} {tc.batch_size}" if flag.startswith("--") else f"{flag}={tc.batch_size}"
        advice = f"{flag} {max(1, n_fit)}" if flag.startswith("--") else f"{flag}={max(1, n_fit)}"
        raise DataError(f"{n_fit} examples to fit on (after any validation split) are fewer than one batch "
                        f"({shown}); give more data or {advice} or less")


def split_feed(feed, tc):
    """(validation feed or None, training feed): a tc.seed permutation, tc.val_split held out."""
    perm = torch.randperm(len(feed), generator=torch.Generator().manual_seed(tc.seed))
    n_val = validation_size(len(feed), tc)
    if not n_val:
        return None, feed
    return feed.subset(perm[:n_val]), feed.subset(perm[n_val:])


def shown_examples(x_val, x_train, n: int):
    """The first n validation examples (training ones without a validation part): what the
    per-epoch pictures show, the same every epoch."""
    shown = x_val if x_val is not None else x_train
    return shown.take(torch.arange(min(n, len(shown))))[0]


def training_feed(ds: Dataset, normalizer: Normalizer, tc, accel: Accel, labels: bool = False):
    """The training data in model units as a feed (data/feed.py): one tensor on the training
    device, or, for data read lazily from disk, batches read and normalised by tc.workers
    processes."""
    y = ds.y if labels else None
    if is_streamed(ds):
        return StreamFeed(ds.x, normalizer, y, accel.device, accel.loader_workers(tc.workers))
    return TensorFeed(normalizer.transform(ds.x), None if y is None else torch.from_numpy(y), accel.device)


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
        # the run is unfinished until this training ends and writes it again (cli/train.py: cmd_resume)
        (path / checkpoint.STATE).unlink(missing_ok=True)
        checkpoint.write_text(path / checkpoint.CONFIG, config.to_json())  # with what --resume changed
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
