"""Model families by name: a registry, and `build_model` which checks a config fits the data."""

from __future__ import annotations

import math

from ..errors import UsageError
from ..nets import output_activation
from .autoencoder import Autoencoder, DenoisingAutoencoder, SparseAutoencoder
from .vae import VAE

MODELS = {
    "ae": Autoencoder,
    "dae": DenoisingAutoencoder,
    "sparse": SparseAutoencoder,
    "vae": VAE,
}


def build_model(cfg, kind: str, shape: tuple[int, ...], model_range: tuple[float, float] | None):
    """A fresh model of `cfg.family` for examples of `shape`; user errors raise UsageError."""
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


__all__ = ["MODELS", "build_model", "Autoencoder", "DenoisingAutoencoder", "SparseAutoencoder", "VAE"]
