"""Model families by name: a registry, and `build_model` which checks a config fits the data."""

from __future__ import annotations

import dataclasses
import math

from ..errors import UsageError
from ..nets import output_activation
from .autoencoder import Autoencoder, DenoisingAutoencoder, SparseAutoencoder
from .vae import VAE
from .vqvae import VQVAE

MODELS = {
    "ae": Autoencoder,
    "dae": DenoisingAutoencoder,
    "sparse": SparseAutoencoder,
    "vae": VAE,
    "vqvae": VQVAE,
}


def default_sizes(kind: str, shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """(code size, MLP hidden sizes) when none are given: 32 and 512,256 for images; for a table
    of D columns a code of D/4 (2 to 32) and hidden layers 2D, D (16-512, 8-256), so that a
    13-column table gets a code of 3 rather than one larger than its input."""
    if kind == "image":
        return 32, (512, 256)
    d = math.prod(shape)
    return max(2, min(32, d // 4)), (max(16, min(512, 2 * d)), max(8, min(256, d)))


def resolve_sizes(cfg, kind: str, shape: tuple[int, ...]):
    """`cfg` with the sizes left to default (None) filled in by default_sizes."""
    code, hidden = default_sizes(kind, shape)
    return dataclasses.replace(cfg, code_dim=cfg.code_dim if cfg.code_dim is not None else code,
                               hidden=tuple(cfg.hidden) if cfg.hidden is not None else hidden)


def build_model(cfg, kind: str, shape: tuple[int, ...], model_range: tuple[float, float] | None):
    """A fresh model of `cfg.family` for examples of `shape` (sizes left to default filled in by
    default_sizes); user errors raise UsageError."""
    cfg = resolve_sizes(cfg, kind, shape)
    if cfg.family not in MODELS:
        raise UsageError(f"model family {cfg.family!r} is unknown; expected one of {', '.join(MODELS)}")
    size = math.prod(shape)
    if cfg.code_dim > size:
        raise UsageError(f"--code-dim {cfg.code_dim} is larger than the input ({size} values per example); "
                         f"choose at most {size}")
    if cfg.arch == "conv" and kind != "image":
        raise UsageError(f"--arch conv needs image data, but this data is a table of {size} columns; "
                         "use --arch mlp")
    if cfg.family == "vae" and cfg.likelihood == "bernoulli" and model_range != (0.0, 1.0):
        raise UsageError("--likelihood bernoulli needs data in [0, 1]: use image data with "
                         "--normalize unit, or --likelihood gaussian")
    return MODELS[cfg.family](cfg, shape, output_activation(cfg.output, model_range))


__all__ = ["MODELS", "build_model", "default_sizes", "resolve_sizes", "Autoencoder", "DenoisingAutoencoder", "SparseAutoencoder", "VAE", "VQVAE"]
