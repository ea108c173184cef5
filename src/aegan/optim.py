"""Optimisers, the guarded optimiser step (`descend`: refused on a NaN/inf loss or gradient) and
learning-rate schedules of the training loops."""

from __future__ import annotations

from typing import Callable

import torch

from . import distributed


def _fused(params) -> dict:
    """Adam's fused kernel (one pass over all parameters; ~20% faster steps than foreach on a
    CPU) where the parameters' device has one, foreach otherwise."""
    devices = {p.device.type for p in params}
    return {"fused": True} if devices <= {"cpu", "cuda", "mps"} and len(devices) == 1 else {"foreach": True}


def make_optimizer(params, lr: float, betas=(0.9, 0.999), weight_decay: float = 0.0,
                   kind: str = "adam") -> torch.optim.Optimizer:
    """Adam (fused where it can be) or RMSprop (WGAN's) over `params`."""
    params = list(params)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay, **_fused(params))


# learning-rate multiplier as a function of the fraction of training done
LR_SCHEDULES: dict[str, Callable[[float], float]] = {
    "constant": lambda done: 1.0,
    "linear": lambda done: max(0.0, 1.0 - done),
    "step": lambda done: 1.0 if done < 0.8 else 0.1,  # a tenth for the last fifth (codecs: finer weights at the end)
    "half_linear": lambda done: min(1.0, 2.0 * (1.0 - done)),  # constant, then linear to 0 (pix2pix, CycleGAN)
}


def set_lr(opts, base: list[float], factor: float) -> None:
    for opt, lr in zip(opts, base):
        for group in opt.param_groups:
            group["lr"] = lr * factor


class NonFinite(Exception):
    """Raised inside a step, before any optimiser step, when a loss or gradient is not finite."""


def clip_and_check(params, grad_clip: float | None) -> None:
    """Optional gradient-norm clipping; raises NonFinite when the gradient norm is NaN or inf."""
    if grad_clip:
        norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
        if not torch.isfinite(norm):
            raise NonFinite("gradient norm")


def check_finite(loss: torch.Tensor, what: str) -> None:
    if not torch.isfinite(loss):
        raise NonFinite(what)


def descend(opt: torch.optim.Optimizer, loss: torch.Tensor, params: list, grad_clip: float | None,
            what: str = "training loss", scaler: torch.amp.GradScaler | None = None) -> None:
    """One optimiser step on `loss`, refused (NonFinite) before any weight changes when the loss
    or the clipped gradient norm is NaN or inf. With an fp16 gradient scaler, inf/NaN gradients
    are the scaler's business (it skips that step and lowers its scale); only a non-finite loss
    stops training."""
    if not distributed.active():
        check_finite(loss, what)
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        if distributed.active() and not distributed.average_gradients(params, loss):
            raise NonFinite(what)  # on every process at once
        clip_and_check(params, grad_clip)
        opt.step()
        return
    scaler.scale(loss).backward()
    if distributed.active():
        distributed.average_gradients(params, loss)
        if distributed.any_flag(not bool(torch.isfinite(loss))):
            raise NonFinite(what)
    scaler.unscale_(opt)
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(opt)
    scaler.update()
