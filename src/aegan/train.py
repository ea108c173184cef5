"""The task-free training driver: batch order, the optimiser step (optim.py), checkpoints and
resume, mid-epoch checks, interrupts, NaN/inf handling, data parallelism (`drive`), and
`train_on_loss`, the loop of every model with one loss to minimise (autoencoders, the classifier).
A kind of run with another algorithm (the GAN's two players, translation) writes its own step
around `drive` in its file in runs/."""

from __future__ import annotations

import copy
import dataclasses
import math
import signal
import time
from contextlib import contextmanager
from typing import Callable

import torch
from tqdm.auto import tqdm

from . import distributed
from .accel import Accel, fast_cpu_math
from .data.feed import TensorFeed
from .errors import AeganError
from .optim import LR_SCHEDULES, NonFinite, descend, make_optimizer, set_lr


class DivergedError(AeganError):
    """The loss or a gradient became NaN or inf."""


class Interrupted(AeganError):
    """Ctrl-C or SIGTERM; a checkpoint was written when the run has a folder."""

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


def batches(n: int, batch_size: int, generator: torch.Generator | None):
    """Index tensors covering 0..n-1 in batches, shuffled when a generator is given. A last batch
    of one example joins the one before (batch norm cannot train on a single example)."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    parts = list(order.split(batch_size))
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2:] = [torch.cat(parts[-2:])]
    return parts


def _loss(loss_fn, xb: torch.Tensor, yb: torch.Tensor | None) -> dict:
    """model.loss(x) of an autoencoder, model.loss(x, y) of a model trained on labels (a feed
    made with labels gives them)."""
    return loss_fn(xb) if yb is None else loss_fn(xb, yb)


@torch.no_grad()
def evaluate(model, x, batch_size: int = 512, y: torch.Tensor | None = None,
             accel: Accel | None = None) -> dict[str, float]:
    """Mean of each loss part over `x` (a tensor with optional labels `y`, or a feed), in eval
    mode."""
    feed = x if hasattr(x, "iterate") else TensorFeed(x, y)
    was = model.training
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    with (accel or Accel()).autocast():
        for xb, yb in feed.iterate(batches(len(feed), batch_size, None)):
            for k, v in _loss(model.loss, xb, yb).items():
                sums[k] = sums.get(k, 0) + v.detach().float() * len(xb)
    model.train(was)
    return {k: float(v) / len(feed) for k, v in sums.items()}


# --- what the loops do besides training ------------------------------------------------

@dataclasses.dataclass
class Control:
    """Checkpoints, resume, interrupts and divergence handling for one training run.

    `save(state)` writes a checkpoint (the run folder's job); `resume` is a state a previous
    `save` wrote. Checkpoints are taken every `every_epochs` epochs and, if set, every
    `every_steps` batches; on an interrupt one more is taken before stopping."""

    save: Callable[[dict], None] | None = None
    resume: dict | None = None
    every_epochs: int = 1
    every_steps: int = 0
    on_nan: str = "stop"  # or "recover": reload the last good state, halve the learning rate
    grad_clip: float | None = None
    stop_signal: int | None = None  # set by the signal handler
    log: Callable[[dict], None] | None = None  # events (NaN recoveries) for RUN/events.jsonl
    # mid-epoch checks (aegan tune prunes on them): the loop's partial record, `checks_per_epoch`
    # times an epoch (the last at the epoch's end as usual), goes to on_check
    checks_per_epoch: int = 1
    on_check: Callable[[dict], None] | None = None


@contextmanager
def interruptible(ctl: Control):
    """SIGINT/SIGTERM set ctl.stop_signal; the loop then checkpoints and raises Interrupted."""
    def handler(signum, frame):
        if ctl.stop_signal is not None:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        ctl.stop_signal = signum
    try:
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def drive(model: torch.nn.Module, opts: list, feed, tc, ctl: Control, state: dict,
          step: Callable[[tuple, dict], dict],
          end_epoch: Callable[[dict, dict, float], tuple[dict, bool]],
          progress: bool, accel: Accel, noise: dict | None = None, scalers: list | None = None,
          check: Callable[[dict, dict], dict] | None = None) -> list[dict]:
    """The outer loop every kind of run trains through. `state` holds everything that changes
    while training apart from the model and optimisers: counters, the epoch's running sums,
    history, loop-specific values (start from `fresh_state`). `feed` turns the epoch's index
    batches into (x, y) batches (data/feed.py).
    step((x, y), state) -> {name: (value, weight)} to average over the epoch;
    end_epoch(state, means, seconds) -> (record, stop). `noise`, if given, receives the batch-order
    generator as noise["gen"] (replayed on resume). `scalers`: fp16 gradient scalers, saved with
    the optimisers. check(state, means so far) -> the partial record of a mid-epoch check
    (Control.checks_per_epoch); it runs with the random streams forked, so that checking leaves
    the training exactly as it is without."""
    with interruptible(ctl), fast_cpu_math(accel.device):
        return _drive(model, opts, feed, tc, ctl, state, step, end_epoch, progress, noise, scalers, check)


def _marks(n_batches: int, ctl: Control, check) -> set[int]:
    """The batch counts within an epoch after which a mid-epoch check runs."""
    if check is None or ctl.on_check is None or ctl.checks_per_epoch <= 1:
        return set()
    return {round(n_batches * j / ctl.checks_per_epoch) for j in range(1, ctl.checks_per_epoch)} - {0, n_batches}


def _check(model, ctl: Control, check, state: dict, n_batches: int) -> None:
    sums, counts = distributed.sum_scalars(state["sums"], state["counts"])
    means = {k: float(v) / max(1, counts[k]) for k, v in sums.items()}
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=cuda):
        record = check(state, means)
    model.train()
    ctl.on_check({"epoch": state["epoch"], "fraction": round(state["batch"] / n_batches, 4), **record})


def _drive(model, opts, feed, tc, ctl, state, step, end_epoch, progress, noise, scalers, check) -> list[dict]:
    n = len(feed)
    scalers = [s for s in (scalers or []) if s is not None]
    progress = progress and distributed.is_main()
    gen = torch.Generator().manual_seed(tc.seed)
    if noise is not None:
        noise["gen"] = gen
    resume = ctl.resume
    if resume is not None:  # continue exactly where a checkpoint left off
        state.update(resume["loop"])
        for opt, sd in zip(opts, resume["optimizers"]):
            opt.load_state_dict(sd)
        for scaler, sd in zip(scalers, resume.get("scalers", [])):
            scaler.load_state_dict(sd)
        gen.set_state(resume["rng"]["gen_epoch"])
        _set_rng(resume["rng"])
    distributed.broadcast_state(model)  # under torchrun: every process starts from rank 0's weights

    def snapshot(gen_epoch) -> dict:
        return {"loop": copy.deepcopy(state), "optimizers": [copy.deepcopy(o.state_dict()) for o in opts],
                "scalers": [s.state_dict() for s in scalers],
                "rng": {"gen_epoch": gen_epoch, "gen": gen.get_state(), "torch": torch.get_rng_state(),
                        # the GPU's generators (a VAE's sampling, a DAE's noise run there)
                        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []}}

    recover = ctl.on_nan == "recover"

    def save(gen_epoch) -> dict | None:
        """Write a checkpoint (with a run folder) and return the state for --on-nan recover."""
        if ctl.save is None and not recover:
            return None
        snap = snapshot(gen_epoch)
        if ctl.save is not None:
            ctl.save(snap)
        if not recover:
            return None
        snap["model"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return snap

    good = None  # the last good state in memory (only kept for --on-nan recover)
    while state["epoch"] <= tc.epochs:
        epoch = state["epoch"]
        model.train()
        t0 = time.perf_counter()
        gen_epoch = gen.get_state()
        order = batches(n, tc.batch_size, gen)
        if resume is not None:
            if state["batch"] > 0:
                gen.set_state(resume["rng"]["gen"])  # the noise stream as it was mid-epoch
            resume = None
        if good is None and recover:
            good = snapshot(gen_epoch) | {"model": {k: v.detach().clone() for k, v in model.state_dict().items()}}
        # a last batch too short to give each process one example is left out
        todo = [i for i in range(state["batch"], len(order)) if len(order[i]) >= distributed.size()]
        marks = _marks(len(order), ctl, check)
        bar = tqdm(todo, desc=f"epoch {epoch}/{tc.epochs}",
                   disable=None if progress else True, leave=False, unit="batch",
                   initial=state["batch"], total=len(order))
        try:
            for i, batch in zip(bar, feed.iterate(distributed.shard(order[i]) for i in todo)):
                scalars = step(batch, state)
                for k, (v, w) in scalars.items():
                    state["sums"][k] = state["sums"].get(k, 0) + v * w
                    state["counts"][k] = state["counts"].get(k, 0) + w
                state["batch"] = i + 1
                state["batches"] += 1
                if progress and i % 20 == 0 and scalars:
                    bar.set_postfix({k: f"{float(v):.3g}" for k, (v, _) in scalars.items()})
                if state["batch"] in marks:
                    _check(model, ctl, check, state, len(order))
                if distributed.any_flag(ctl.stop_signal is not None):  # every process stops at this batch
                    ctl.stop_signal = ctl.stop_signal or signal.SIGTERM
                    bar.close()
                    _interrupt(ctl, save, gen_epoch, state)
                if ctl.every_steps and state["batches"] % ctl.every_steps == 0 and state["batch"] < len(order):
                    good = save(gen_epoch)
        except NonFinite as e:
            bar.close()
            where = f"epoch {epoch}, batch {state['batch'] + 1} (step {state['batches'] + 1})"
            if ctl.on_nan != "recover":
                raise DivergedError(f"the {e} became NaN or inf at {where}; the weights of the last good "
                                    "checkpoint are kept. Lower the learning rate (e.g. by 10x), add "
                                    "--grad-clip 1.0, or use --on-nan recover") from None
            # reload the last good state, halve the learning rate and go on
            scale = state["lr_scale"] / 2
            model.load_state_dict(good["model"])
            for opt, sd in zip(opts, good["optimizers"]):
                opt.load_state_dict(copy.deepcopy(sd))
            for scaler, sd in zip(scalers, good["scalers"]):
                scaler.load_state_dict(sd)
            state.clear()
            state.update(copy.deepcopy(good["loop"]))
            state["lr_scale"] = scale
            state["recoveries"] = state.get("recoveries", 0) + 1
            gen.set_state(good["rng"]["gen_epoch"])
            _set_rng(good["rng"])
            resume = {"rng": good["rng"]}
            event = {"event": "nan_recover", "at": where, "lr_scale": scale}
            if ctl.log is not None:
                ctl.log(event)
            tqdm.write(f"the {e} became NaN or inf at {where}: reloaded the last good state, "
                       f"learning rate x{scale:g}")
            if state["recoveries"] > 10:
                raise DivergedError(f"the {e} kept becoming NaN or inf (10 recoveries, learning rate x{scale:g}); "
                                    "lower the learning rate and train again") from None
            continue
        distributed.average_buffers(model)
        sums, counts = distributed.sum_scalars(state["sums"], state["counts"])
        means = {k: float(v) / max(1, counts[k]) for k, v in sums.items()}
        record, stop = end_epoch(state, means, round(time.perf_counter() - t0, 3))
        state["history"].append(record)
        state.update(epoch=epoch + 1, batch=0, sums={}, counts={})
        if progress:
            shown = "  ".join(f"{k}={v:.4g}" for k, v in record.items()
                              if isinstance(v, float) and k not in ("seconds",))
            tqdm.write(f"epoch {epoch}/{tc.epochs}  {shown}  ({record['seconds']:.1f}s)")
        if stop:
            break
        if ctl.every_epochs and epoch % ctl.every_epochs == 0 or epoch == tc.epochs:
            good = save(gen.get_state())
        else:
            good = None
    if not distributed.weights_agree(model):
        raise AeganError(f"the {distributed.size()} training processes ended with different weights; "
                         "this is a bug in aegan, please report it")
    return state["history"]


def _set_rng(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    cuda = rng.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def stop_name(sig: int) -> tuple[str, int]:
    """(how a message names the signal that stopped a training, the exit code it ends with)."""
    return {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}.get(sig, f"signal {sig}"), 128 + int(sig)


def _interrupt(ctl: Control, save, gen_epoch, state) -> None:
    name, code = stop_name(ctl.stop_signal)
    if ctl.save is None:
        saved = ("rank 0 writes the checkpoint" if not distributed.is_main()
                 else "no run folder, nothing saved")
        raise Interrupted(f"stopped by {name} at epoch {state['epoch']}, batch {state['batch']} ({saved})", code)
    save(gen_epoch)
    raise Interrupted(f"stopped by {name} at epoch {state['epoch']}, batch {state['batch']}; a checkpoint "
                      "was saved", code)


def fresh_state(**extra) -> dict:
    return {"epoch": 1, "batch": 0, "batches": 0, "step": 0, "lr_scale": 1.0, "sums": {}, "counts": {},
            "history": [], **extra}


def _feed(x, accel: Accel):
    """A tensor -> a TensorFeed on the training device; a feed stays as it is; None stays None."""
    if x is None or hasattr(x, "iterate"):
        return x
    return TensorFeed(x, device=accel.device) if len(x) else None


def train_on_loss(model, x_train, x_val, cfg, *, opt: torch.optim.Optimizer | None = None,
                  schedule: str = "constant", on_epoch: Callable[[dict], None] | None = None,
                  progress: bool = True, control: Control | None = None, accel: Accel | None = None) -> list[dict]:
    """Adam on model.loss(x)["loss"] (model.loss(x, y) where the feed has labels); one record per
    epoch (train_* and val_* means). `schedule`: a key of LR_SCHEDULES.

    `x_train`, `x_val`: model-space tensors (batched by indexing, no per-sample collate) or feeds
    (data/feed.py). With cfg.patience > 0 training stops after that many epochs without a lower
    validation loss and the best weights are restored.
    """
    ctl = control or Control()
    accel = accel or Accel()
    accel.place(model)
    feed, val = _feed(x_train, accel), _feed(x_val, accel)
    opt = opt if opt is not None else make_optimizer(model.parameters(), cfg.lr, weight_decay=cfg.weight_decay)
    params = list(model.parameters())
    scaler = accel.scaler()
    loss_fn = accel.compiled(model.loss)
    lr_at = LR_SCHEDULES[schedule]
    total = cfg.epochs * math.ceil(len(feed) / cfg.batch_size)

    def step(batch, st):
        xb, yb = batch
        set_lr([opt], [cfg.lr], lr_at(st["batches"] / total) * st["lr_scale"])
        with accel.autocast():
            out = _loss(loss_fn, xb, yb)
        descend(opt, out["loss"], params, ctl.grad_clip, scaler=scaler)
        st["step"] += 1
        return {k: (v.detach().float(), len(xb)) for k, v in out.items()}

    def end_epoch(st, means, seconds):
        record = {"epoch": st["epoch"], "step": st["step"]}
        record.update({f"train_{k}": v for k, v in means.items()})
        if val is not None:
            record.update({f"val_{k}": v for k, v in evaluate(model, val, accel=accel).items()})
        record["seconds"] = seconds
        if on_epoch is not None:
            on_epoch(record)
        monitored = record.get("val_loss", record["train_loss"])
        if monitored < st["best"]:
            st["best"], st["stale"] = monitored, 0
            if cfg.patience:
                st["best_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return record, False
        st["stale"] += 1
        if cfg.patience and st["stale"] >= cfg.patience:
            if progress:
                tqdm.write(f"early stopping: no better validation loss for {st['stale']} epochs")
            return record, True
        return record, False

    def check(st, means):
        record = {"step": st["step"], **{f"train_{k}": v for k, v in means.items()}}
        if val is not None:
            record.update({f"val_{k}": v for k, v in evaluate(model, val, accel=accel).items()})
        return record

    state = fresh_state(best=math.inf, stale=0, best_state=None)
    history = drive(model, [opt], feed, cfg, ctl, state, step, end_epoch, progress, accel, scalers=[scaler],
                    check=check)
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    model.eval()
    return history
