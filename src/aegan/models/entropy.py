"""Entropy models of a learned codec: how many bits a quantised latent costs, in training (a
differentiable likelihood under additive uniform noise) and in a file (integer tables the range
coder uses).

- FactorizedPrior: one learned density per channel, the "entropy bottleneck" of Balle et al.
  2018 (appendix 6.1): a monotone cumulative c(x) = sigmoid(f_K(...f_1(x))), each f_k an affine
  map with softplus(weights) followed by x + tanh(a) * tanh(x); P(k) = c(k + 1/2) - c(k - 1/2).
- GaussianConditional: a zero-mean Gaussian per element whose scale the hyperprior predicts
  (Balle et al. 2018), convolved with the unit box: P(k) = Phi((k + 1/2)/s) - Phi((k - 1/2)/s).

Tables. A file must decode on any machine, so the probabilities the coder uses cannot come from
floating-point arithmetic at decode time: `build_tables` turns each density into integer
frequencies once (after training; they are saved with the weights) and both sides read those.
For the Gaussian, scales are first snapped to a fixed log-spaced table (SCALES), as the papers'
implementations do, so one table serves every element whose scale falls in its bin. Symbols
outside a table's support are clamped to its edge (the tails hold under TAIL of the mass).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LIKELIHOOD_FLOOR = 1e-9  # no element costs more than -log2(1e-9) ~ 30 bits in training
TAIL = 1e-9  # the probability mass left outside a table's support
PRECISION = 16  # table frequencies sum to 2**PRECISION; every symbol in the support gets >= 1
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 64.0, 48
MAX_HALF_WIDTH = 255  # no table reaches further than +-255 from its centre


def scale_table() -> torch.Tensor:
    """The scales the Gaussian tables are made for (log-spaced, float64)."""
    return torch.exp(torch.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS, dtype=torch.float64))


def noisy(y: torch.Tensor) -> torch.Tensor:
    """Training's stand-in for rounding: y plus uniform noise in [-1/2, 1/2)."""
    return y + torch.empty_like(y).uniform_(-0.5, 0.5)


def quantize(y: torch.Tensor, training: bool) -> torch.Tensor:
    return noisy(y) if training else torch.round(y)


def frequencies(pmf: np.ndarray) -> np.ndarray:
    """Integer frequencies summing to 2**PRECISION, each at least 1, from probabilities (float64).
    Pure integer/float64 arithmetic on the given numbers: the same input gives the same table."""
    total = 1 << PRECISION
    pmf = np.maximum(np.asarray(pmf, dtype=np.float64), 0.0)
    pmf = pmf / pmf.sum()
    freq = np.maximum(np.floor(pmf * (total - len(pmf))).astype(np.int64), 0) + 1
    freq[int(np.argmax(freq))] += total - int(freq.sum())  # the remainder to the likeliest symbol
    return freq


class Tables(nn.Module):
    """Integer frequency tables, one row per density: freq (rows, width) int32, the support of row
    r being offset[r] .. offset[r] + length[r] - 1 (entries beyond length are 0). Buffers, so that
    they are saved with the weights; `built` says whether they match the trained weights."""

    def __init__(self, rows: int, width: int):
        super().__init__()
        self.register_buffer("freq", torch.zeros(rows, width, dtype=torch.int32))
        self.register_buffer("offset", torch.zeros(rows, dtype=torch.int32))
        self.register_buffer("length", torch.zeros(rows, dtype=torch.int32))
        self.register_buffer("built", torch.zeros((), dtype=torch.int32))

    def fill(self, pmfs: list[np.ndarray], offsets: list[int]) -> None:
        self.freq.zero_()
        for r, (pmf, off) in enumerate(zip(pmfs, offsets)):
            f = frequencies(pmf)
            self.freq[r, :len(f)] = torch.from_numpy(f.astype(np.int32))
            self.offset[r], self.length[r] = off, len(f)
        self.built.fill_(1)

    def row(self, r: int) -> tuple[np.ndarray, int]:
        """(frequencies, offset) of row r (numpy copies made once per state of the buffers)."""
        key = tuple((t.data_ptr(), t._version) for t in (self.freq, self.offset, self.length))
        cached = self.__dict__.get("_rows")
        if cached is None or cached[0] != key:
            freq, offset, length = (t.cpu().numpy().astype(np.int64) for t in (self.freq, self.offset, self.length))
            rows = [(freq[i, :length[i]], int(offset[i])) for i in range(len(freq))]
            self.__dict__["_rows"] = cached = (key, rows)
        return cached[1][r]


class FactorizedPrior(nn.Module):
    """A learned univariate density per channel (Balle et al. 2018, appendix 6.1; filters 3,3,3)."""

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0):
        super().__init__()
        dims = (1, *filters, 1)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices, self.biases, self.factors = nn.ParameterList(), nn.ParameterList(), nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.empty(channels, dims[i + 1], 1).uniform_(-0.5, 0.5)))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))
        self.channels = channels
        self.tables = Tables(channels, 2 * MAX_HALF_WIDTH + 1)

    def logits_cdf(self, x: torch.Tensor) -> torch.Tensor:
        """x (C, 1, n) -> (C, 1, n): the logit of each channel's cumulative at x."""
        for i, (m, b) in enumerate(zip(self.matrices, self.biases)):
            x = torch.matmul(F.softplus(m), x) + b
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def likelihood(self, y: torch.Tensor) -> torch.Tensor:
        """P(y) of each element of y (N, C, H, W) under its channel's density, boxed to width 1."""
        n, c = y.shape[:2]
        v = y.transpose(0, 1).reshape(c, 1, -1)
        lower, upper = self.logits_cdf(v - 0.5), self.logits_cdf(v + 0.5)
        sign = -torch.sign(lower + upper).detach()  # work in the tail where sigmoid is precise
        lik = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        lik = lik.reshape(c, n, *y.shape[2:]).transpose(0, 1)
        return lik.clamp_min(LIKELIHOOD_FLOOR)

    @torch.no_grad()
    def build_tables(self) -> None:
        """Each channel's probabilities on the integers that hold all but TAIL of its mass."""
        grid = torch.arange(-MAX_HALF_WIDTH, MAX_HALF_WIDTH + 1, dtype=torch.float32)
        v = grid.to(self.matrices[0].device).expand(self.channels, 1, -1)
        upper = torch.sigmoid(self.logits_cdf(v + 0.5)).double().cpu()[:, 0]
        lower = torch.sigmoid(self.logits_cdf(v - 0.5)).double().cpu()[:, 0]
        pmfs, offsets = [], []
        for ch in range(self.channels):
            lo = int(np.searchsorted(upper[ch].numpy(), TAIL / 2))  # first symbol whose c(k+1/2) passes the tail
            hi = int(np.searchsorted(lower[ch].numpy(), 1 - TAIL / 2))  # past the last one below 1 - tail
            lo, hi = min(lo, len(grid) - 1), max(min(hi, len(grid)), lo + 1)
            pmfs.append((upper[ch, lo:hi] - lower[ch, lo:hi]).numpy())
            offsets.append(int(grid[lo]))
        self.tables.fill(pmfs, offsets)

    def symbols(self, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Rounded y (N, C, H, W) clamped into each channel's table: (symbols, table row per symbol)."""
        q = torch.round(y).to(torch.int64)
        lo = self.tables.offset.to(torch.int64).view(1, -1, 1, 1)
        hi = lo + self.tables.length.to(torch.int64).view(1, -1, 1, 1) - 1
        q = torch.maximum(torch.minimum(q, hi), lo)
        rows = torch.arange(self.channels).view(1, -1, 1, 1).expand_as(q)
        return q.numpy(), rows.numpy()


class GaussianConditional(nn.Module):
    """Zero-mean Gaussians of predicted scale, boxed to width 1 (Balle et al. 2018)."""

    def __init__(self):
        super().__init__()
        self.tables = Tables(SCALE_LEVELS, 2 * MAX_HALF_WIDTH + 1)

    @staticmethod
    def likelihood(y: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        s = scale.clamp_min(SCALE_MIN)
        v = y.abs()  # symmetric: work in the lower tail, where the difference of Phis is precise
        upper = torch.special.ndtr((0.5 - v) / s)
        lower = torch.special.ndtr((-0.5 - v) / s)
        return (upper - lower).clamp_min(LIKELIHOOD_FLOOR)

    @torch.no_grad()
    def build_tables(self) -> None:
        pmfs, offsets = [], []
        for s in scale_table().tolist():
            half = min(MAX_HALF_WIDTH, math.ceil(-s * float(torch.special.ndtri(torch.tensor(TAIL / 2, dtype=torch.float64)))))
            k = torch.arange(-half, half + 1, dtype=torch.float64)
            pmfs.append((torch.special.ndtr((k + 0.5) / s) - torch.special.ndtr((k - 0.5) / s)).numpy())
            offsets.append(-half)
        self.tables.fill(pmfs, offsets)

    @staticmethod
    def rows(scale: torch.Tensor) -> torch.Tensor:
        """The table row of each predicted scale (compared in float64): the largest table scale
        not above it, the first below SCALE_MIN."""
        return torch.bucketize(scale.double(), scale_table()[1:], right=True)

    def symbols(self, y: torch.Tensor, scale: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        rows = self.rows(scale)
        q = torch.round(y).to(torch.int64)
        lo = self.tables.offset.to(torch.int64)[rows]
        hi = lo + self.tables.length.to(torch.int64)[rows] - 1
        return torch.maximum(torch.minimum(q, hi), lo).numpy(), rows.numpy()


def bits(likelihoods: torch.Tensor) -> torch.Tensor:
    """Total bits of a tensor of likelihoods, per example: (N,)."""
    return -torch.log2(likelihoods).flatten(1).sum(1)
