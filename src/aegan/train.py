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


def make_gan_optimizers(gan, cfg) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    from .losses import GAN_LOSSES

    def make(params, lr, betas):
        if GAN_LOSSES[cfg.loss].optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, foreach=True)
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), foreach=True)
    return (make(gan.generator.parameters(), cfg.lr_g, cfg.betas_g),
            make(gan.discriminator.parameters(), cfg.lr_d, cfg.betas_d))


# learning-rate multiplier as a function of the fraction of training done
LR_SCHEDULES: dict[str, Callable[[float], float]] = {
    "constant": lambda done: 1.0,
    "linear": lambda done: max(0.0, 1.0 - done),
}


def set_lr(opts, base: list[float], factor: float) -> None:
    for opt, lr in zip(opts, base):
        for group in opt.param_groups:
            group["lr"] = lr * factor


def train_gan(gan, x: torch.Tensor, y: torch.Tensor | None, cfg, tc, *, opts=None,
              on_epoch: Callable[[dict], None] | None = None, progress: bool = True) -> list[dict]:
    """One loop for every GAN loss: per batch a D step on detached fakes, and every n_critic-th
    batch a G step on fresh noise, then the EMA update. An epoch is one pass of D over the data."""
    from .losses import GAN_LOSSES, gradient_penalty
    spec = GAN_LOSSES[cfg.loss]
    G, D = gan.generator, gan.discriminator
    opt_g, opt_d = opts if opts is not None else make_gan_optimizers(gan, cfg)
    gen = torch.Generator().manual_seed(tc.seed)
    history: list[dict] = []
    step = 0
    schedule = LR_SCHEDULES[cfg.lr_decay or "constant"]
    base_lr = [cfg.lr_g, cfg.lr_d]
    total = tc.epochs * math.ceil(len(x) / tc.batch_size)
    done = 0
    for epoch in range(1, tc.epochs + 1):
        G.train()
        D.train()
        t0 = time.perf_counter()
        sums = torch.zeros(4)  # d_loss, g_loss, d_real, d_fake
        n_d = n_g = 0
        bar = tqdm(batches(len(x), tc.batch_size, gen), desc=f"epoch {epoch}/{tc.epochs}",
                   disable=None if progress else True, leave=False, unit="batch")
        for idx in bar:
            if len(idx) % cfg.pack or len(idx) < 2 * cfg.pack:
                continue  # a short last batch that packing cannot split
            set_lr((opt_g, opt_d), base_lr, schedule(done / total))
            done += 1
            real = x[idx]
            labels = y[idx] if gan.num_classes else None
            fake = G(torch.randn(len(idx), cfg.z_dim, generator=gen), labels)
            d_real, d_fake = D(real, labels), D(fake.detach(), labels)
            d_loss = spec.d(d_real, d_fake)
            if cfg.gp_weight:
                d_loss = d_loss + cfg.gp_weight * gradient_penalty(lambda t: D(t, labels), real, fake.detach(), gen)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            if cfg.clip:
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-cfg.clip, cfg.clip)
            sums[0] += d_loss.detach()
            sums[2] += d_real.detach().mean()
            sums[3] += d_fake.detach().mean()
            n_d += 1
            if n_d % cfg.n_critic == 0:
                fake = G(torch.randn(len(idx), cfg.z_dim, generator=gen), labels)
                g_loss = spec.g(D(fake, labels))
                opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                opt_g.step()
                gan.update_ema()
                sums[1] += g_loss.detach()
                n_g += 1
                step += 1
                if progress and n_g % 20 == 0:
                    bar.set_postfix(d=f"{d_loss.item():.3g}", g=f"{g_loss.item():.3g}",
                                    real=f"{d_real.mean().item():.2f}", fake=f"{d_fake.mean().item():.2f}")
        s = sums.tolist()
        record = {"epoch": epoch, "step": step, "d_loss": s[0] / max(1, n_d), "g_loss": s[1] / max(1, n_g),
                  "d_real": s[2] / max(1, n_d), "d_fake": s[3] / max(1, n_d)}
        if not all(math.isfinite(v) for v in s):
            raise DivergedError(f"a GAN loss became NaN or inf in epoch {epoch}; lower --lr-g/--lr-d, "
                                "or try --loss wgan-gp or hinge")
        record["seconds"] = round(time.perf_counter() - t0, 3)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if progress:
            shown = "  ".join(f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float) and k != "seconds")
            tqdm.write(f"epoch {epoch}/{tc.epochs}  {shown}  ({record['seconds']:.1f}s)")
    G.eval()
    return history
