"""A learned image codec: the convolutional transforms of Balle et al., trained for rate and
distortion together, with a factorized prior (2017) or a scale hyperprior (2018).

x -> g_a -> y (M channels, 2**stages times smaller) -> quantised y_hat -> g_s -> x_hat.
With the hyperprior, z = h_a(|y|) is coded first (factorized prior) and h_s(z_hat) gives the
scale of each element of y (Gaussian conditional). Training replaces rounding by additive
uniform noise; the loss is lambda * 255^2 * distortion + bits per pixel (the convention of the
papers' code, distortion on [0, 1] pixels). Inputs are pixels in [0, 1] (the run's "unit"
normaliser).

Coding (models/entropy.py tables, coding.py streams): `encode` gives the integer symbols of a
batch and the table row of each; `decode` rebuilds the images from them. The scales that choose
the Gaussian tables are computed in float64 on both sides, so that a scale cannot land on the
other side of a table boundary on the decoding side.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .. import losses
from ..nets import conv_sizes
from .entropy import FactorizedPrior, GaussianConditional, bits, quantize

Segment = tuple[np.ndarray, np.ndarray, object]  # (symbols, table rows, the Tables they index)


class GDN(nn.Module):
    """Generalised divisive normalisation (Balle et al. 2016): y_i = x_i / sqrt(beta_i + sum_j
    gamma_ij x_j^2); inverse=True multiplies instead (IGDN, in the synthesis transform). beta and
    gamma are kept non-negative by storing their square roots."""

    def __init__(self, channels: int, inverse: bool = False):
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(channels))
        self.gamma = nn.Parameter(torch.eye(channels) * 0.1 ** 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        norm = nn.functional.conv2d(x * x, (self.gamma ** 2).view(c, c, 1, 1), self.beta ** 2 + 1e-6)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


def _down(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 5, stride=2, padding=2)


def _ups(sizes: list[tuple[int, int]], channels: list[int], act) -> nn.Sequential:
    """Transposed convs from sizes[-1] back to sizes[0], each sized to undo a _down stage exactly;
    `act(c)` after every one but the last."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        (ih, iw), (th, tw) = sizes[-1 - i], sizes[-2 - i]
        pad = (th - (2 * ih - 1), tw - (2 * iw - 1))  # ConvTranspose2d(k5, s2, p2) gives 2s - 1 + pad
        layers.append(nn.ConvTranspose2d(channels[i], channels[i + 1], 5, stride=2, padding=2, output_padding=pad))
        if i < len(sizes) - 2:
            layers.append(act(channels[i + 1]))
    return nn.Sequential(*layers)


class Codec(nn.Module):
    def __init__(self, cfg, shape: tuple[int, int, int]):
        super().__init__()
        self.cfg, self.shape = cfg, tuple(shape)
        c, h, w = shape
        n, m, k = cfg.hidden_channels, cfg.latent_channels, cfg.stages
        sizes = conv_sizes(h, w, k)
        chans = [c] + [n] * (k - 1) + [m]
        layers: list[nn.Module] = []
        for i in range(k):
            layers.append(_down(chans[i], chans[i + 1]))
            if i < k - 1:
                layers.append(GDN(chans[i + 1]))
        self.g_a = nn.Sequential(*layers)
        self.g_s = _ups(sizes, chans[::-1], lambda ch: GDN(ch, inverse=True))
        self.latent_shape = (m, *sizes[-1])
        if cfg.prior == "hyperprior":
            hs = conv_sizes(*sizes[-1], 2)
            self.h_a = nn.Sequential(nn.Conv2d(m, n, 3, padding=1), nn.ReLU(), _down(n, n), nn.ReLU(), _down(n, n))
            self.h_s = nn.Sequential(_ups(hs, [n, n, n], lambda ch: nn.ReLU()), nn.ReLU(),
                                     nn.Conv2d(n, m, 3, padding=1), nn.Softplus())
            self.z_prior, self.y_prior = FactorizedPrior(n), GaussianConditional()
            self.side_shape = (n, *hs[-1])
        else:
            self.y_prior = FactorizedPrior(m)
        self.pixels = h * w

    @property
    def hyper(self) -> bool:
        return self.cfg.prior == "hyperprior"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_hat, bits per example). In training the rate is measured on y plus uniform noise;
        the synthesis sees the same noisy y (decoder_input "noise") or round(y) with straight-through
        gradients ("round": mixed quantisation, Minnen & Singh 2020). In eval mode: rounding."""
        y = self.g_a(x)
        y_hat = quantize(y, self.training)
        y_dec = y + (torch.round(y) - y).detach() if self.training and self.cfg.decoder_input == "round" else y_hat
        if self.hyper:
            z = self.h_a(y.abs())
            z_hat = quantize(z, self.training)
            rate = bits(self.z_prior.likelihood(z_hat)) + bits(self.y_prior.likelihood(y_hat, self.h_s(z_hat)))
        else:
            rate = bits(self.y_prior.likelihood(y_hat))
        return self.g_s(y_dec), rate

    def distortion(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.distortion == "ms-ssim":
            return 1 - losses.ms_ssim(x_hat, x).mean()
        return losses.mse(x_hat, x)

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x_hat, rate = self(x)
        bpp = rate.mean() / self.pixels
        d = self.distortion(x_hat, x)
        mse = losses.mse(x_hat.clamp(0, 1), x).detach()
        return {"loss": self.cfg.lmbda * 255 ** 2 * d + bpp, "bpp": bpp.detach(), "mse": mse,
                "psnr": -10 * torch.log10(mse.clamp_min(1e-10))}

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """What a file gives back for x: its rounded, clamped latents decoded, in [0, 1]."""
        return self.decode_latents(torch.from_numpy(self.latents(x)).float())

    # --- coding ---------------------------------------------------------------------------------
    def build_tables(self) -> None:
        """The integer tables files are coded with, from the trained densities (once, after training)."""
        if self.hyper:
            self.z_prior.build_tables()
            self.__dict__["_h_s64"] = None  # the float64 copy of h_s, made again from these weights
        self.y_prior.build_tables()

    @property
    def tables_built(self) -> bool:
        priors = (self.z_prior, self.y_prior) if self.hyper else (self.y_prior,)
        return all(int(p.tables.built) == 1 for p in priors)

    def _scales(self, z_hat: torch.Tensor) -> torch.Tensor:
        """h_s in float64 (a copy made once): scales that pick the same tables on the decoding side."""
        if self.__dict__.get("_h_s64") is None:  # not a submodule: never in the weights file
            self.__dict__["_h_s64"] = copy.deepcopy(self.h_s).double().eval()
        return self.__dict__["_h_s64"](z_hat.double())

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> list[Segment]:
        """The segments of a batch, in coding order: (symbols, rows, tables) each."""
        y = self.g_a(x)
        if not self.hyper:
            return [(*self.y_prior.symbols(y), self.y_prior.tables)]
        zs, zrows = self.z_prior.symbols(self.h_a(y.abs()))
        scales = self._scales(torch.from_numpy(zs).double())
        ys, yrows = self.y_prior.symbols(y, scales)
        return [(zs, zrows, self.z_prior.tables), (ys, yrows, self.y_prior.tables)]

    @torch.no_grad()
    def decode(self, n: int, next_symbols) -> torch.Tensor:
        """Images (n, C, H, W) from the coder: next_symbols(rows, tables) gives the symbols of the
        next segment, whose rows this side works out as the encoder did."""
        if self.hyper:
            zrows = np.broadcast_to(np.arange(self.side_shape[0]).reshape(1, -1, 1, 1), (n, *self.side_shape))
            z_hat = torch.from_numpy(next_symbols(zrows, self.z_prior.tables)).double()
            yrows = self.y_prior.rows(self._scales(z_hat)).numpy()
        else:
            yrows = np.broadcast_to(np.arange(self.latent_shape[0]).reshape(1, -1, 1, 1), (n, *self.latent_shape))
        return self.decode_latents(torch.from_numpy(next_symbols(yrows, self.y_prior.tables)).float())

    @torch.no_grad()
    def decode_latents(self, y_hat: torch.Tensor) -> torch.Tensor:
        return self.g_s(y_hat).clamp(0, 1)

    def latents(self, x: torch.Tensor) -> np.ndarray:
        """The integer latents a file holds for x (the y symbols), for tests and inspection."""
        return self.encode(x)[-1][0]
