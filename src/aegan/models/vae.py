"""Variational autoencoder (Kingma & Welling 2014) with a beta-weighted KL (Higgins et al.
2017) and the importance-weighted bound on log p(x) (Burda et al. 2016). Everything in nats
per example, in model units."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import losses
from ..config import FAMILIES
from .autoencoder import Autoencoder

LOG_SIGMA_MIN = math.log(1e-3)


class VAE(Autoencoder):
    """q(z|x) = N(mu(x), diag(exp(logvar(x)))), p(z) = N(0, I), p(x|z) Gaussian with one learned
    variance (Rybkin et al. 2021, sigma-VAE) or Bernoulli on logits."""

    description, settings = FAMILIES["vae"]

    def __init__(self, cfg, shape, output: str):
        super().__init__(cfg, shape, output)
        # log sigma of the Gaussian likelihood, shared by all elements
        self.log_sigma = nn.Parameter(torch.tensor(-2.0))  # sigma ~ 0.14: starts the
        # likelihood near the noise level of pixel data rather than at 1, which favours posterior collapse

    @staticmethod
    def encoder_out_dim(cfg) -> int:
        return 2 * cfg.code_dim  # mean and log-variance

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)  # each (N, code)
        return mu, logvar.clamp(-30.0, 20.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]  # the posterior mean: deterministic codes

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        pre = self.decoder(z)
        return torch.sigmoid(pre) if self.cfg.likelihood == "bernoulli" else self.out_act(pre)

    def nll(self, x: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        """(N,) -log p(x|z) from the decoder's pre-activation output."""
        if self.cfg.likelihood == "bernoulli":
            return losses.bernoulli_nll(x, pre)
        return losses.gaussian_nll(x, self.out_act(pre), self.log_sigma.clamp(min=LOG_SIGMA_MIN))

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # reparameterisation
        pre = self.decoder(z)
        recon, kl = self.nll(x, pre).mean(), losses.gaussian_kl(mu, logvar).mean()
        with torch.no_grad():
            x_hat = torch.sigmoid(pre) if self.cfg.likelihood == "bernoulli" else self.out_act(pre)
            mse = losses.mse(x_hat, x)
        # nelbo: the negative ELBO whatever beta (what aegan tune compares across betas)
        return {"loss": recon + self.cfg.beta * kl, "recon": recon, "kl": kl, "mse": mse,
                "nelbo": (recon + kl).detach()}

    @torch.no_grad()
    def elbo(self, x: torch.Tensor, samples: int = 1) -> torch.Tensor:
        """(N,) evidence lower bound in nats, KL in closed form, reconstruction averaged over samples."""
        mu, logvar = self.posterior(x)
        rec = torch.stack([self.nll(x, self.decoder(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)))
                           for _ in range(samples)]).mean(0)
        return -(rec + losses.gaussian_kl(mu, logvar))

    @torch.no_grad()
    def iwae_bound(self, x: torch.Tensor, k: int = 100, chunk: int = 50) -> torch.Tensor:
        """(N,) log (1/k) sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x): a lower bound on log p(x)
        that tightens as k grows (Burda et al. 2016, eq. 8); k = 1 is the ELBO."""
        mu, logvar = self.posterior(x)
        n = x.shape[0]
        log_w = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn(m, *mu.shape, device=x.device)
            z = mu + eps * torch.exp(0.5 * logvar)  # (m, N, code)
            zf = z.reshape(m * n, -1)
            xr = x.unsqueeze(0).expand(m, *x.shape).reshape(m * n, *x.shape[1:])
            log_px_z = -self.nll(xr, self.decoder(zf)).view(m, n)
            log_pz = losses.log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
            log_qz = losses.log_normal(z, mu, logvar)
            log_w.append(log_px_z + log_pz - log_qz)
        return torch.logsumexp(torch.cat(log_w), 0) - math.log(k)
