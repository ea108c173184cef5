"""Loss terms as pure tensor functions. Per-sample functions return shape (N,)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error over every element (the article's loss); a scalar."""
    return F.mse_loss(x_hat, x)


def per_sample_mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N,) mean squared error of each example over its elements."""
    return (x_hat - x).pow(2).flatten(1).mean(1)


def l1_activity(z: torch.Tensor) -> torch.Tensor:
    """Mean absolute code activation: the sparse autoencoder's penalty (Ng, CS294A notes)."""
    return z.abs().sum(1).mean()


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """(N,) -log N(x; mean, sigma^2 I) in nats, summed over the elements of each example."""
    z = (x - mean) * torch.exp(-log_sigma)
    return (0.5 * z.pow(2) + log_sigma + 0.5 * LOG_2PI).flatten(1).sum(1)


def bernoulli_nll(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """(N,) -log Bernoulli(x; sigmoid(logits)) in nats, for x in [0, 1] (continuous relaxation)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """(N,) KL( N(mu, exp(logvar)) || N(0, I) ), closed form (Kingma & Welling 2014, app. B)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """(N,) log N(z; mu, diag(exp(logvar))), summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)
