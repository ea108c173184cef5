"""Encoder-side latent refinement of a learned codec: the latents a file holds are optimised for
each image, by gradient descent on that image's own rate-distortion loss, instead of taken
straight from the analysis transform (Campos et al. 2019, "Content adaptive optimization for
neural image compression"; Yang et al. 2020, "Improving inference for neural image compression").

The decoder is unchanged: a refined file decodes with the same model, the same tables and the
same arithmetic; only the encoder spends more time. Rounding is relaxed by stochastic Gumbel
annealing (SGA, Yang et al. 2020): each latent is a soft mix of its floor and ceiling, drawn from
a Gumbel-softmax whose temperature falls during the steps, so that by the end the loss sees
(almost) what rounding gives. The rate of the rounded result is what the file then pays.
"""

from __future__ import annotations

import math

import torch

from .. import losses
from .entropy import bits

TAU_START, TAU_END = 0.5, 0.02  # Gumbel-softmax temperatures at the first and the last step


def sga(v: torch.Tensor, tau: float) -> torch.Tensor:
    """A stochastic soft rounding of v (Yang et al. 2020, eq. 6): floor(v) + w, w in [0, 1] the
    ceiling's weight drawn from a two-way Gumbel-softmax (a relaxed one-hot sample at temperature tau)
    with logits -atanh(distance)/tau."""
    lo = torch.floor(v)
    d = (v - lo).clamp(1e-6, 1 - 1e-6)  # distance to the floor; 1 - d to the ceiling
    logits = torch.stack([-torch.atanh(d), -torch.atanh(1 - d)], -1) / tau
    g = -torch.log(-torch.log(torch.rand_like(logits).clamp(1e-20, 1.0)))
    w = torch.softmax((logits + g) / tau, -1)[..., 1]  # a relaxed one-hot sample at temperature tau
    return lo + w


def temperature(step: int, steps: int) -> float:
    """Exponential annealing from TAU_START to TAU_END over the steps."""
    frac = step / max(steps - 1, 1)
    return TAU_START * math.exp(frac * math.log(TAU_END / TAU_START))


def _soft_rd(codec, y: torch.Tensor, z: torch.Tensor | None, x: torch.Tensor, tau: float) -> torch.Tensor:
    """The rate-distortion loss of x with latents y (and side information z), each rounding relaxed
    by SGA at temperature tau, summed over the images (each image's latents get their own)."""
    n = len(x)
    if not codec.hyper:
        y_hat = sga(y, tau)
        rate = bits(codec.y_prior.likelihood(y_hat))
    else:
        z_hat = sga(z, tau)
        rate = bits(codec.z_prior.likelihood(z_hat))
        hyper = codec.h_s(z_hat)
        if not codec.with_means:
            y_hat = sga(y, tau)
            rate = rate + bits(codec.y_prior.likelihood(y_hat, hyper))
        else:
            def step(k, mean, scale):  # later passes see the earlier ones as they were drawn
                r = sga(y - mean, tau)
                return r, r + mean

            y_hat, r, scale = codec._walk(hyper, step)
            rate = rate + bits(codec.y_prior.likelihood(r, scale))
    x_hat = codec.g_s(y_hat)
    d = ((x_hat - x) ** 2).flatten(1).mean(1) if codec.cfg.distortion == "mse" else 1 - losses.ms_ssim(x_hat, x)
    return (codec.cfg.lmbda * 255 ** 2 * d + rate / codec.pixels).sum() / n


def refine(codec, x: torch.Tensor, steps: int, lr: float = 5e-3) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(y, z): the latents (and side information; None for a factorized codec) of images x after
    `steps` Adam steps on each image's relaxed rate-distortion loss, starting from the analysis
    transforms' own. The codec's weights are not changed (nor their gradients kept)."""
    was_training = codec.training
    codec.eval()
    weights = [p for p in codec.parameters() if p.requires_grad]
    for p in weights:
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            y = codec.g_a(x).detach()
            z = codec.h_a(y if codec.with_means else y.abs()).detach() if codec.hyper else None
            free = [y.requires_grad_()] + ([z.requires_grad_()] if z is not None else [])
            opt = torch.optim.Adam(free, lr=lr)
            for step in range(steps):
                opt.zero_grad(set_to_none=True)
                _soft_rd(codec, y, z, x, temperature(step, steps)).backward()
                opt.step()
    finally:
        for p in weights:
            p.requires_grad_(True)
        codec.train(was_training)
    return y.detach(), (z.detach() if z is not None else None)
