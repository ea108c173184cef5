"""Vector-quantised autoencoder (VQ-VAE, van den Oord et al. 2017).

The encoder's code (code_dim values) is read as code_dim / vq_dim vectors ("positions") of
vq_dim values; each is replaced by its nearest entry of a codebook of codebook_size vectors, and
the decoder sees those (gradients pass straight through). The codebook follows the encoder
outputs assigned to it by exponential moving averages (appendix A.1 of the paper; decay 0.99),
the encoder is held near its entries by the commitment loss (beta = `commitment`), and an entry
no output has chosen for a while is restarted at a random encoder output of the batch (dead
codes; Dhariwal et al. 2020). Logged per epoch: perplexity of the codes (exp of their entropy
in the batch) and the fraction of the codebook in use.

For files (`aegan compress`) the indices are entropy-coded with a per-position categorical prior:
how often each entry was chosen at each position (a moving average over training), turned into
integer frequencies by integer arithmetic only, so both sides build the same tables.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from .. import distributed, losses
from ..config import FAMILIES
from ..errors import UsageError
from .autoencoder import Autoencoder
from .entropy import PRECISION

DECAY = 0.99
DEAD_AFTER = 1.0  # an entry picked less than once per batch (moving average) is restarted (Jukebox)


class VQVAE(Autoencoder):
    description, settings = FAMILIES["vqvae"]

    def __init__(self, cfg, shape, output: str):
        if cfg.code_dim % cfg.vq_dim:
            raise UsageError(f"--code-dim {cfg.code_dim} is not a multiple of --vq-dim {cfg.vq_dim}; the code is "
                             f"cut into vectors of vq_dim values (e.g. --code-dim {cfg.vq_dim * 16})")
        super().__init__(cfg, shape, output)
        k, d = cfg.codebook_size, cfg.vq_dim
        self.positions = cfg.code_dim // d
        # every entry starts dead: the first training batch restarts them all at encoder outputs
        # (a data-dependent start, like k-means seeding), so none begins out of the data's reach
        self.register_buffer("codebook", torch.randn(k, d) * 0.1)
        self.register_buffer("ema_count", torch.zeros(k))
        self.register_buffer("ema_sum", torch.zeros(k, d))
        self.register_buffer("position_freq", torch.full((self.positions, k), 1.0 / k))

    def nearest(self, z_e: torch.Tensor) -> torch.Tensor:
        """(N, code_dim) -> (N, positions) indices of the nearest codebook entries."""
        flat = z_e.reshape(-1, self.cfg.vq_dim)
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t() + self.codebook.pow(2).sum(1)
        return dist.argmin(1).view(len(z_e), self.positions)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """(N, positions) indices -> (N, code_dim) quantised code."""
        return F.embedding(idx, self.codebook).reshape(len(idx), -1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.lookup(self.nearest(self.encoder(x)))

    def indices(self, x: torch.Tensor) -> torch.Tensor:
        return self.nearest(self.encoder(x))

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z_e = self.encoder(x)
        idx = self.nearest(z_e)
        if self.training:
            self._update(z_e.detach(), idx)
        z_q = self.lookup(idx)
        commit = self.cfg.commitment * F.mse_loss(z_e, z_q.detach())
        recon = losses.mse(self.decode(z_e + (z_q - z_e).detach()), x)  # straight-through gradient
        counts = torch.bincount(idx.reshape(-1), minlength=self.cfg.codebook_size).float()
        p = counts / counts.sum()
        perplexity = torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())
        return {"loss": recon + commit, "recon": recon.detach(), "commitment": commit.detach(),
                "perplexity": perplexity, "usage": (counts > 0).float().mean()}

    @torch.no_grad()
    def _update(self, z_e: torch.Tensor, idx: torch.Tensor) -> None:
        flat, k = z_e.reshape(-1, self.cfg.vq_dim), self.cfg.codebook_size
        onehot = F.one_hot(idx.reshape(-1), k).type_as(flat)
        counts, sums = onehot.sum(0), onehot.t() @ flat
        per_position = F.one_hot(idx, k).type_as(flat).mean(0)  # (positions, k)
        if distributed.active():  # every process updates with the statistics of the whole global batch
            for t in (counts, sums, per_position):
                distributed.all_sum(t)
            per_position /= distributed.size()
        self.ema_count.mul_(DECAY).add_(counts, alpha=1 - DECAY)
        self.ema_sum.mul_(DECAY).add_(sums, alpha=1 - DECAY)
        n = self.ema_count.sum()
        count = (self.ema_count + 1e-5) / (n + k * 1e-5) * n  # Laplace smoothing: no division by 0
        self.codebook.copy_(self.ema_sum / count.unsqueeze(1))
        dead = self.ema_count < DEAD_AFTER
        if dead.any():
            pick = flat[torch.randint(len(flat), (int(dead.sum()),), device=flat.device)]
            self.codebook[dead] = pick
            self.ema_sum[dead] = pick
            self.ema_count[dead] = 1.0
            if distributed.active():  # rank 0's restarts for everyone
                for t in (self.codebook, self.ema_sum):
                    distributed.broadcast_from_main(t)
        self.position_freq.mul_(DECAY).add_(per_position, alpha=1 - DECAY)

    @torch.no_grad()
    def decode_indices(self, idx: torch.Tensor) -> torch.Tensor:
        return self.decode(self.lookup(idx))

    def tables(self) -> "CountTables":
        return CountTables(self.position_freq.detach().cpu().numpy())


class CountTables:
    """Integer frequency tables (coding.py's interface: row(r) -> (frequencies, offset)) from the
    moving-average frequencies, by integer arithmetic only: each float32 value scaled by 2**24
    and floored (exact), then shared out of 2**PRECISION in proportion, each entry at least 1.
    The same weights file gives the same tables on every machine."""

    def __init__(self, freq: np.ndarray):
        self.freq = np.asarray(freq, dtype=np.float32)

    def row(self, r: int) -> tuple[np.ndarray, int]:
        counts = [int(v) for v in np.floor(self.freq[r].astype(np.float64) * (1 << 24))]
        total, k = sum(counts), len(counts)
        spare = (1 << PRECISION) - k
        out = [1 + (c * spare) // total if total else 1 for c in counts]
        out[max(range(k), key=lambda i: out[i])] += (1 << PRECISION) - sum(out)
        return np.array(out, dtype=np.int64), 0
