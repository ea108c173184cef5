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


# --- GAN losses -------------------------------------------------------------------------
# Each takes the discriminator's raw outputs (logits or critic values, shape (N,)) and
# returns a scalar for the side it trains. "real"/"fake" are D's outputs on data and on G(z).

def d_cross_entropy(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))) with D = sigmoid(logit) (Goodfellow et al. 2014, eq. 1)."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_minimax(fake: torch.Tensor) -> torch.Tensor:
    """G minimises log(1 - D(G(z))): the original saturating objective (Goodfellow et al. 2014)."""
    return -F.softplus(fake).mean()


def g_non_saturating(fake: torch.Tensor) -> torch.Tensor:
    """G minimises -log D(G(z)) (Goodfellow et al. 2014, sec. 3): strong gradients early on."""
    return F.softplus(-fake).mean()


def d_wasserstein(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Critic minimises E[f(G(z))] - E[f(x)] (Arjovsky et al. 2017)."""
    return fake.mean() - real.mean()


def g_wasserstein(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def d_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def d_least_squares(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """LSGAN with targets a=0 (fake), b=1 (real): 1/2 E[(D(x)-1)^2] + 1/2 E[D(G(z))^2] (Mao et al. 2017)."""
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean()


def g_least_squares(fake: torch.Tensor) -> torch.Tensor:
    """1/2 E[(D(G(z)) - 1)^2] (Mao et al. 2017, c=1)."""
    return 0.5 * ((fake - 1) ** 2).mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, generator=None) -> torch.Tensor:
    """E[(||grad_x critic(x_hat)||_2 - 1)^2] on x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1] per
    example (Gulrajani et al. 2017, alg. 1). `critic` maps (N, ...) -> (N,)."""
    shape = (real.shape[0], *([1] * (real.dim() - 1)))
    eps = torch.rand(shape, generator=generator, device=generator.device if generator else real.device).to(real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def r1_penalty(real_out: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E[||grad_x D(x)||^2] over real examples `real` (which require grad) and D's outputs on them
    (Mescheder et al. 2018, R1; the D loss adds gamma / 2 times this)."""
    (grad,) = torch.autograd.grad(real_out.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang, Simoncelli & Bovik 2003, per scale


def _gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float32) -> torch.Tensor:
    g = torch.exp(-((torch.arange(size, dtype=dtype) - (size - 1) / 2) ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window: int = 11) -> torch.Tensor:
    """(N,) SSIM of images (N, C, H, W) (Wang et al. 2004: 11-tap Gaussian window of sigma 1.5,
    K1 0.01, K2 0.03, the mean of the map): the one-scale case of `ms_ssim`."""
    return ms_ssim(x, y, data_range, window, max_levels=1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window: int = 11,
            max_levels: int = len(MS_SSIM_WEIGHTS)) -> torch.Tensor:
    """(N,) multi-scale SSIM of images (N, C, H, W) (Wang et al. 2003: 11-tap Gaussian window of
    sigma 1.5, K1 0.01, K2 0.03). Small images get fewer scales: as many as keep the smallest one
    at least `window` wide (2 for 28 x 28), their standard weights renormalised to sum to 1."""
    levels = 1
    while levels < max_levels and min(x.shape[-2:]) // 2 ** levels >= window:
        levels += 1
    size = min(window, *x.shape[-2:])
    w = torch.tensor(MS_SSIM_WEIGHTS[:levels], dtype=x.dtype, device=x.device)
    w = w / w.sum()
    g = _gaussian_window(size, dtype=x.dtype).to(x.device)
    c = x.shape[1]
    gh, gv = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1), g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(t):
        return F.conv2d(F.conv2d(t, gh, groups=c), gv, groups=c)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for level in range(levels):
        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        cs = ((2 * sxy + c2) / (sxx + syy + c2)).flatten(1).mean(1)
        if level == levels - 1:
            lum = ((2 * mx * my + c1) / (mx * mx + my * my + c1)).flatten(1).mean(1)
            values.append((lum * cs).clamp_min(1e-8))  # no infinite gradient of v ** w at 0
        else:
            values.append(cs.clamp_min(1e-8))
            x, y = F.avg_pool2d(x, 2, ceil_mode=True), F.avg_pool2d(y, 2, ceil_mode=True)
    return torch.stack([v ** wi for v, wi in zip(values, w)], 0).prod(0)
