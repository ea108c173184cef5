"""The training loop for every model that honours the autoencoder contract."""

from __future__ import annotations

import math
import time
from typing import Callable

import torch
from tqdm.auto import tqdm

from .errors import AeganError


class DivergedError(AeganError):
    """The loss became NaN or inf."""


def batches(n: int, batch_size: int, generator: torch.Generator | None):
    """Index tensors covering 0..n-1 in batches, shuffled when a generator is given."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return order.split(batch_size)


@torch.no_grad()
def evaluate(model, x: torch.Tensor, batch_size: int = 512) -> dict[str, float]:
    """Mean of each loss part over `x`, in eval mode."""
    was = model.training
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    for idx in batches(len(x), batch_size, None):
        for k, v in model.loss(x[idx]).items():
            sums[k] = sums.get(k, 0) + v.detach() * len(idx)
    model.train(was)
    return {k: float(v) / len(x) for k, v in sums.items()}


def make_optimizer(model, cfg) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


def train_autoencoder(model, x_train: torch.Tensor, x_val: torch.Tensor | None, cfg, *,
                      opt: torch.optim.Optimizer | None = None,
                      on_epoch: Callable[[dict], None] | None = None, progress: bool = True) -> list[dict]:
    """Adam on model.loss(x)["loss"]; one record per epoch (train_* and val_* means).

    Batches are index slices of the in-memory tensor (no per-sample collate). With
    cfg.patience > 0 training stops after that many epochs without a lower validation loss
    and the best weights are restored.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = opt if opt is not None else make_optimizer(model, cfg)
    history: list[dict] = []
    best, best_state, stale, step = math.inf, None, 0, 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        sums: dict[str, torch.Tensor] = {}
        bar = tqdm(batches(len(x_train), cfg.batch_size, gen), desc=f"epoch {epoch}/{cfg.epochs}",
                   disable=None if progress else True, leave=False, unit="batch")
        for i, idx in enumerate(bar):
            out = model.loss(x_train[idx])
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            step += 1
            for k, v in out.items():
                sums[k] = sums.get(k, 0) + v.detach() * len(idx)
            if progress and i % 20 == 0:
                bar.set_postfix(loss=f"{out['loss'].item():.4g}")
        record = {"epoch": epoch, "step": step}
        record.update({f"train_{k}": float(v) / len(x_train) for k, v in sums.items()})
        if x_val is not None and len(x_val):
            record.update({f"val_{k}": v for k, v in evaluate(model, x_val).items()})
        record["seconds"] = round(time.perf_counter() - t0, 3)
        if not math.isfinite(record["train_loss"]):
            raise DivergedError(f"the training loss became {record['train_loss']} in epoch {epoch}; "
                                "lower --lr (e.g. by 10x) or --batch-size and train again")
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if progress:
            shown = "  ".join(f"{k}={v:.4g}" for k, v in record.items()
                              if k.endswith("_loss") and isinstance(v, float))
            tqdm.write(f"epoch {epoch}/{cfg.epochs}  {shown}  ({record['seconds']:.1f}s)")
        monitored = record.get("val_loss", record["train_loss"])
        if monitored < best:
            best, stale = monitored, 0
            if cfg.patience:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if cfg.patience and stale >= cfg.patience:
                if progress:
                    tqdm.write(f"early stopping: no better validation loss for {stale} epochs")
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
