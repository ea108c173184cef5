"""aegan: autoencoders and GANs on your own data, from the shell or from Python.

The names below are imported on first use (PEP 562), so that `import aegan` and the command
line's help and argument errors do not load PyTorch."""

import importlib

from .version import __version__

_PUBLIC = {
    "AeganError": "errors", "DataError": "errors", "RunError": "errors", "UsageError": "errors",
    "DataConfig": "config", "ModelConfig": "config", "RunConfig": "config", "TrainConfig": "config",
    "Dataset": "data", "load_dataset": "data",
    "AnomalyDetector": "estimators", "AutoencoderTransformer": "estimators", "GAN": "estimators",
    "AutoencoderRun": "runs.autoencoder", "ClassifierRun": "runs.classifier", "GANRun": "runs.gan",
    "fit": "runs.registry", "load": "runs.registry",
}
__all__ = ["__version__", "Run", *sorted(_PUBLIC)]


def __getattr__(name: str):
    if name == "Run":  # the name of an autoencoder run before runs/ (aegan 0.1.0)
        name = "AutoencoderRun"
    if name not in _PUBLIC:
        raise AttributeError(f"module 'aegan' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
