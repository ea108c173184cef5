"""A learned image codec: the convolutional transforms of Balle et al., trained for rate and
distortion together, with one of five entropy models of the latents (`prior`):

- factorized: one learned density per channel (Balle et al. 2017);
- hyperprior: z = h_a(|y|) is coded first (factorized) and h_s(z_hat) gives the scale of each
  element of y (zero-mean Gaussian; Balle et al. 2018);
- mean-scale: z = h_a(y), and h_s(z_hat) gives a mean and a scale; y - mean is rounded and coded
  (Minnen et al. 2018);
- checkerboard: mean-scale, where half of y (the anchors, a checkerboard) is coded first and the
  other half's means and scales also see the decoded anchors through a 5 x 5 context convolution
  (He et al. 2021): two decoding passes instead of one per position;
- space-channel: checkerboard within each of four channel groups of y (M/8, M/8, M/4 and the
  rest), coded one group after another, each group's means and scales also seeing all of the
  groups decoded before it (the space-channel context of ELIC, He et al. 2022): eight passes.

The mean-scale family codes y in passes (`pass_masks`, one boolean mask over y's elements each):
the means and scales of a pass's elements depend only on z_hat and on the elements of earlier
passes, so training, coding, decoding and latent refinement all walk the same passes (`_walk`).

x -> g_a -> y (M channels, 2**stages times smaller; each hidden stage a strided conv, GDN and `blocks`
3 x 3 conv + GDN pairs) -> quantised y_hat -> g_s -> x_hat. Training
replaces rounding by additive uniform noise; the loss is lambda * 255^2 * distortion + bits per
pixel (the convention of the papers' code, distortion on [0, 1] pixels). Inputs are pixels in
[0, 1] (the run's "unit" normaliser).

Coding (models/entropy.py tables, coding.py streams): `encode` gives the integer symbols of a
batch and the table row of each, segment by segment; `decode` rebuilds the images from them.
Means and scales are computed in float64 by the same code on both sides, from the same decoded
symbols, so that a scale cannot land on the other side of a table boundary on the decoding side.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .. import losses
from ..nets import conv_sizes
from .entropy import FactorizedPrior, GaussianConditional, bits, quantize
from .latent_refine import refine as refine_latents

Segment = tuple[np.ndarray, np.ndarray, object]  # (symbols, table rows, the Tables they index)


class GDN(nn.Module):
    """Generalised divisive normalisation (Balle et al. 2016): y_i = x_i / sqrt(beta_i + sum_j
    gamma_ij x_j^2); inverse=True multiplies instead (IGDN, in the synthesis transform). beta and
    gamma are kept non-negative by storing their square roots.

    gamma's roots start at sqrt(0.1) I, so its off-diagonal roots start at exactly 0, where their
    gradient is exactly 0: they stay 0, and each channel is in effect divided by its own square
    alone. The papers' code starts them at 2^-18 instead, so that they learn; that was tried on
    Fashion-MNIST (lambda 0.01, 4 epochs, seeds 0 and 1: validation loss 1.519 and 1.493 against
    1.437 (the 4-epoch bench run's) and 1.503 for this init) and gave no gain beyond the seeds'
    spread, so the init every figure in README.md and BENCHMARKS.md was measured with is kept
    until a longer training shows a difference."""

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


def _gdn_block(channels: int, blocks: int, inverse: bool) -> nn.Module:
    """(I)GDN, then `blocks` more 3 x 3 convs each followed by (I)GDN, at the same size. With no
    blocks the GDN alone, with the weight names of runs saved before the option."""
    if not blocks:
        return GDN(channels, inverse)
    layers: list[nn.Module] = [GDN(channels, inverse)]
    for _ in range(blocks):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), GDN(channels, inverse)]
    return nn.Sequential(*layers)


def channel_groups(m: int) -> list[int]:
    """The channel groups of a space-channel prior, in coding order: small first (M/8, M/8, M/4,
    then the rest), as ELIC's uneven groups (16, 16, 32, 64, 192 of 320); empty groups dropped."""
    sizes = [m // 8, m // 8, m // 4]
    return [c for c in sizes + [m - sum(sizes)] if c]


def default_stages(h: int, w: int) -> int:
    """Stride-2 stages when none are asked for: 2 under 64 pixels a side (28 x 28 -> 7 x 7 latents),
    4 from 64 (the papers' 16x, for photographs)."""
    return 2 if min(h, w) < 64 else 4


class Codec(nn.Module):
    def __init__(self, cfg, shape: tuple[int, int, int]):
        super().__init__()
        self.cfg, self.shape = cfg, tuple(shape)
        c, h, w = shape
        n, m, k = cfg.hidden_channels, cfg.latent_channels, cfg.stages or default_stages(h, w)
        sizes = conv_sizes(h, w, k)
        chans = [c] + [n] * (k - 1) + [m]
        layers: list[nn.Module] = []
        for i in range(k):
            layers.append(_down(chans[i], chans[i + 1]))
            if i < k - 1:
                layers.append(_gdn_block(chans[i + 1], cfg.blocks, inverse=False))
        self.g_a = nn.Sequential(*layers)
        self.g_s = _ups(sizes, chans[::-1], lambda ch: _gdn_block(ch, cfg.blocks, inverse=True))
        self.latent_shape = (m, *sizes[-1])
        self.pixels = h * w
        if cfg.prior == "factorized":
            self.y_prior = FactorizedPrior(m)
            return
        hs = conv_sizes(*sizes[-1], 2)
        self.h_a = nn.Sequential(nn.Conv2d(m, n, 3, padding=1), nn.ReLU(), _down(n, n), nn.ReLU(), _down(n, n))
        self.z_prior, self.y_prior = FactorizedPrior(n), GaussianConditional()
        self.side_shape = (n, *hs[-1])
        if cfg.prior == "hyperprior":  # a scale per element of y
            self.h_s = nn.Sequential(_ups(hs, [n, n, n], lambda ch: nn.ReLU()), nn.ReLU(),
                                     nn.Conv2d(n, m, 3, padding=1), nn.Softplus())
            return
        # a mean and a (softplus) scale per element of y (Minnen et al. 2018)
        self.h_s = nn.Sequential(_ups(hs, [n, n, n], lambda ch: nn.ReLU()), nn.ReLU(),
                                 nn.Conv2d(n, 2 * m, 3, padding=1))
        i, j = np.indices(sizes[-1])
        anchor = torch.from_numpy((i + j) % 2 == 0)
        self.register_buffer("anchor", anchor, persistent=False)
        every = torch.ones(self.latent_shape, dtype=torch.bool)
        if cfg.prior == "checkerboard":  # and the context of the anchors, decoded first (He et al. 2021)
            self.context = nn.Conv2d(m, 2 * m, 5, padding=2)
            self.entropy_parameters = nn.Sequential(nn.Conv2d(4 * m, 3 * m, 1), nn.LeakyReLU(),
                                                    nn.Conv2d(3 * m, 2 * m, 1))
            masks = [every & anchor, every & ~anchor]
        elif cfg.prior == "space-channel":  # per channel group: its anchors, then the rest (He et al. 2022)
            groups = channel_groups(m)
            self.group_bounds = np.cumsum([0] + groups).tolist()
            self.group_context = nn.ModuleList(nn.Conv2d(c, 2 * c, 5, padding=2) for c in groups)
            self.channel_context = nn.ModuleList(
                nn.Sequential(nn.Conv2d(lo, n, 5, padding=2), nn.ReLU(), nn.Conv2d(n, 2 * c, 5, padding=2))
                for lo, c in zip(self.group_bounds[1:-1], groups[1:]))
            self.group_parameters = nn.ModuleList(
                nn.Sequential(nn.Conv2d(2 * m + (4 if g else 2) * c, 2 * m, 1), nn.LeakyReLU(),
                              nn.Conv2d(2 * m, 2 * c, 1))
                for g, c in enumerate(groups))
            masks = []
            for lo, hi in zip(self.group_bounds, self.group_bounds[1:]):
                group = torch.zeros_like(every)
                group[lo:hi] = True
                masks += [group & anchor, group & ~anchor]
        else:
            masks = [every]
        self.register_buffer("pass_masks", torch.stack(masks), persistent=False)

    @property
    def hyper(self) -> bool:
        return self.cfg.prior != "factorized"

    @property
    def with_means(self) -> bool:
        return self.cfg.prior in ("mean-scale", "checkerboard", "space-channel")

    def _params(self, hyper: torch.Tensor, anchors: torch.Tensor | None, parts: nn.Module | None = None):
        """(mean, scale) of each element of y from h_s's output: directly (mean-scale) or with the
        context of the decoded anchors (checkerboard; None: the anchors' own, whose context is 0).
        Only the anchors of `anchors` are read; the context is 0 at the anchors themselves."""
        parts = parts or self
        if self.cfg.prior == "checkerboard":
            zero = torch.zeros((), dtype=hyper.dtype, device=hyper.device)
            ctx = torch.zeros_like(hyper) if anchors is None else \
                torch.where(self.anchor, zero, parts.context(torch.where(self.anchor, anchors, zero)))
            hyper = parts.entropy_parameters(torch.cat([hyper, ctx], 1))
        mean, raw = hyper.chunk(2, 1)
        return mean, nn.functional.softplus(raw)

    def _pass_params(self, hyper: torch.Tensor, y_hat: torch.Tensor, k: int, parts: nn.Module | None = None,
                     cache: dict | None = None):
        """(mean, scale), shaped as y, right at the elements of pass k: from h_s's output and the
        elements of y_hat that earlier passes decoded (no other element of y_hat is read). `cache`
        keeps what a group's two passes share (its channel context) for the walk's next pass."""
        if self.cfg.prior == "mean-scale":
            return self._params(hyper, None, parts)
        if self.cfg.prior == "checkerboard":
            return self._params(hyper, y_hat if k else None, parts)
        parts = parts or self
        g, rest = divmod(k, 2)  # space-channel: group g, its anchors (rest 0) or the others (1)
        lo, hi = self.group_bounds[g], self.group_bounds[g + 1]
        zero = torch.zeros((), dtype=hyper.dtype, device=hyper.device)
        own = torch.where(self.anchor, y_hat[:, lo:hi], zero)  # the group's decoded anchors
        spatial = parts.group_context[g](own) if rest else torch.zeros_like(torch.cat([own, own], 1))
        feats = [hyper, torch.where(self.anchor, zero, spatial)]
        if g:  # every earlier group, whole: the same for both of the group's passes
            cache = {} if cache is None else cache
            if cache.get("group") != g:
                cache.update(group=g, channels=parts.channel_context[g - 1](y_hat[:, :lo]))
            feats.append(cache["channels"])
        mean, raw = parts.group_parameters[g](torch.cat(feats, 1)).chunk(2, 1)
        pad = (0, 0, 0, 0, lo, self.latent_shape[0] - hi)
        return nn.functional.pad(mean, pad), nn.functional.pad(nn.functional.softplus(raw), pad, value=1.0)

    def _walk(self, hyper: torch.Tensor, step, parts: nn.Module | None = None):
        """Walk the coding passes of a mean-scale-family codec: for pass k, step(k, mean, scale) gives
        (residual, y_hat) shaped as y, of which the pass's elements are kept. Returns (y_hat, the
        residuals, the scales) of every element."""
        y_hat = torch.zeros((len(hyper), *self.latent_shape), dtype=hyper.dtype, device=hyper.device)
        r_all, scale_all, cache = torch.zeros_like(y_hat), torch.ones_like(y_hat), {}
        for k, mask in enumerate(self.pass_masks):
            mean, scale = self._pass_params(hyper, y_hat, k, parts, cache)
            r, v = step(k, mean, scale)
            y_hat, r_all, scale_all = (torch.where(mask, new, old) for new, old in
                                       ((v.to(y_hat.dtype), y_hat), (r.to(y_hat.dtype), r_all), (scale, scale_all)))
        return y_hat, r_all, scale_all

    # --- training -------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_hat, bits per example). In training the rate is measured on y plus uniform noise;
        the synthesis sees the same noisy y (decoder_input "noise") or the rounded y with
        straight-through gradients ("round": mixed quantisation, Minnen & Singh 2020). In eval mode:
        rounding. With means, what is rounded (and coded) is y - mean."""
        y = self.g_a(x)
        if not self.hyper:
            y_q = quantize(y, self.training)
            return self.g_s(self._synthesis_input(y, y_q, 0)), bits(self.y_prior.likelihood(y_q))
        z_hat = quantize(self.h_a(y if self.with_means else y.abs()), self.training)
        rate = bits(self.z_prior.likelihood(z_hat))
        if not self.with_means:
            y_q = quantize(y, self.training)
            rate = rate + bits(self.y_prior.likelihood(y_q, self.h_s(z_hat)))
            return self.g_s(self._synthesis_input(y, y_q, 0)), rate
        def step(k, mean, scale):
            r = quantize(y - mean, self.training)
            return r, self._synthesis_input(y, r + mean, mean)

        y_hat, r, scale = self._walk(self.h_s(z_hat), step)
        return self.g_s(y_hat), rate + bits(self.y_prior.likelihood(r, scale))

    def _synthesis_input(self, y: torch.Tensor, y_q: torch.Tensor, mean) -> torch.Tensor:
        """y_q (y as the rate sees it: noisy in training, rounded in eval), or in training with
        decoder_input "round", mean + round(y - mean) with straight-through gradients."""
        if self.training and self.cfg.decoder_input == "round":
            return y + (mean + torch.round(y - mean) - y).detach()
        return y_q

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
        """What a file gives back for x: its quantised, clamped latents decoded, in [0, 1]."""
        return self.decode_latents(self._code(x)[1])

    # --- coding ---------------------------------------------------------------------------------
    def build_tables(self) -> None:
        """The integer tables files are coded with, from the trained densities (once, after training)."""
        if self.hyper:
            self.z_prior.build_tables()
            self.__dict__["_parts64"] = None  # the float64 copies, made again from these weights
        self.y_prior.build_tables()

    @property
    def tables_built(self) -> bool:
        priors = (self.z_prior, self.y_prior) if self.hyper else (self.y_prior,)
        return all(int(p.tables.built) == 1 for p in priors)

    def _f64(self) -> nn.Module:
        """float64 copies (made once) of what turns z_hat into the Gaussians' parameters, so that the
        decoding side picks the same tables; not submodules, so never in the weights file."""
        if self.__dict__.get("_parts64") is None:
            parts = nn.Module()
            for name in ("h_s", "context", "entropy_parameters", "group_context", "channel_context",
                         "group_parameters"):
                if name in self._modules:
                    setattr(parts, name, copy.deepcopy(self._modules[name]).double().eval())
            self.__dict__["_parts64"] = parts
        return self.__dict__["_parts64"]

    @torch.no_grad()
    def encode(self, x: torch.Tensor, refine: int = 0) -> list[Segment]:
        """The segments of a batch, in coding order: (symbols, rows, tables) each. With `refine`,
        the latents are first optimised for `refine` steps on each image's own rate-distortion
        loss (models/latent_refine.py); the decoder does not change."""
        return self._code(x, refine_latents(self, x, refine) if refine else None)[0]

    @torch.no_grad()
    def _code(self, x: torch.Tensor, latents=None) -> tuple[list[Segment], torch.Tensor]:
        """(segments, y_hat): what a file holds for x, and the latents its decoder rebuilds;
        `latents`: (y, z) to code instead of the analysis transforms' own."""
        y, table = self.g_a(x) if latents is None else latents[0], self.y_prior.tables
        if not self.hyper:
            ys, yrows = self.y_prior.symbols(y)
            return [(ys, yrows, table)], torch.from_numpy(ys).float()
        z = self.h_a(y if self.with_means else y.abs()) if latents is None else latents[1]
        zs, zrows = self.z_prior.symbols(z)
        segments, parts = [(zs, zrows, self.z_prior.tables)], self._f64()
        hyper = parts.h_s(torch.from_numpy(zs).double())
        if not self.with_means:
            ys, yrows = self.y_prior.symbols(y, hyper)
            return segments + [(ys, yrows, table)], torch.from_numpy(ys).float()
        y, masks = y.double(), self.pass_masks.cpu().numpy()

        def step(k, mean, scale):  # a segment per pass: its elements in C order, image by image
            r, rows = self.y_prior.symbols(y - mean, scale)
            segments.append((r[:, masks[k]], rows[:, masks[k]], table))
            return torch.from_numpy(r), torch.from_numpy(r) + mean

        return segments, self._walk(hyper, step, parts)[0].float()

    @torch.no_grad()
    def decode(self, n: int, next_symbols) -> torch.Tensor:
        """Images (n, C, H, W) from the coder: next_symbols(rows, tables) gives the symbols of the
        next segment, whose rows this side works out as the encoder did."""
        table = self.y_prior.tables
        if not self.hyper:
            rows = np.broadcast_to(np.arange(self.latent_shape[0]).reshape(1, -1, 1, 1), (n, *self.latent_shape))
            return self.decode_latents(torch.from_numpy(next_symbols(rows, table)).float())
        zrows = np.broadcast_to(np.arange(self.side_shape[0]).reshape(1, -1, 1, 1), (n, *self.side_shape))
        parts = self._f64()
        hyper = parts.h_s(torch.from_numpy(next_symbols(zrows, self.z_prior.tables)).double())
        if not self.with_means:
            return self.decode_latents(torch.from_numpy(next_symbols(self.y_prior.rows(hyper).numpy(), table)).float())
        masks = self.pass_masks.cpu().numpy()

        def step(k, mean, scale):
            r = np.zeros((n, *self.latent_shape), dtype=np.int64)
            r[:, masks[k]] = next_symbols(self.y_prior.rows(scale).numpy()[:, masks[k]], table)
            return torch.from_numpy(r), torch.from_numpy(r) + mean

        return self.decode_latents(self._walk(hyper, step, parts)[0].float())

    @torch.no_grad()
    def decode_latents(self, y_hat: torch.Tensor) -> torch.Tensor:
        return self.g_s(y_hat).clamp(0, 1)
