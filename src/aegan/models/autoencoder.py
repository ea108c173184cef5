"""Deterministic autoencoders: plain, denoising and sparse.

Contract (docs/architecture.md): encode(x) -> z, decode(z) -> x_hat, loss(x) -> {"loss", parts...},
score(x) -> (N,) anomaly score (higher = more anomalous). Inputs and outputs are in model
units (the run's normaliser maps the data's own units in and out).
"""

from __future__ import annotations

import torch
from torch import nn

from .. import losses
from ..config import FAMILIES
from ..nets import BODIES, OUTPUT_ACTIVATIONS


class Autoencoder(nn.Module):
    """x -> encoder -> z -> decoder -> x_hat, trained on mean squared error."""

    description, settings = FAMILIES["ae"]

    def __init__(self, cfg, shape: tuple[int, ...], output: str):
        super().__init__()
        self.cfg, self.shape = cfg, tuple(shape)
        self.encoder, self.decoder = BODIES[cfg.arch](self.shape, self.encoder_out_dim(cfg), cfg.code_dim, cfg)
        self.out_act = OUTPUT_ACTIVATIONS[output]()

    @staticmethod
    def encoder_out_dim(cfg) -> int:
        return cfg.code_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (N, *shape) -> (N, code)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # (N, code) -> (N, *shape)
        return self.out_act(self.decoder(z))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, F): the encoder's last hidden activations (before the layer that makes the code)."""
        return self.encoder.features(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def penalty(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return {}

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(self.corrupt(x) if self.training else x)
        out = {"recon": losses.mse(self.decode(z), x)}
        out.update(self.penalty(z))
        out["loss"] = sum(out.values())
        return out

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) reconstruction MSE per example, without corruption or sampling."""
        return losses.per_sample_mse(self.reconstruct(x), x)


class DenoisingAutoencoder(Autoencoder):
    """Trained to rebuild clean x from a corrupted copy (Vincent et al. 2008): additive
    Gaussian noise of std `noise_level`, or masking noise zeroing that fraction of inputs."""

    description, settings = FAMILIES["dae"]

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.noise == "mask":
            return x * (torch.rand_like(x) >= self.cfg.noise_level)
        return x + self.cfg.noise_level * torch.randn_like(x)


class SparseAutoencoder(Autoencoder):
    """MSE plus `sparsity` times the L1 norm of the code (an activity penalty)."""

    description, settings = FAMILIES["sparse"]

    def penalty(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"sparsity": self.cfg.sparsity * losses.l1_activity(z)}
