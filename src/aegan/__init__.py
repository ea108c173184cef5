"""aegan: autoencoders and GANs on your own data, from the shell or from Python."""

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig
from .data import Dataset, load_dataset
from .errors import AeganError, DataError, RunError, UsageError
from .estimators import GAN, AnomalyDetector, AutoencoderTransformer
from .runs.autoencoder import AutoencoderRun
from .runs.classifier import ClassifierRun
from .runs.gan import GANRun
from .runs.registry import fit, load
from .version import __version__

Run = AutoencoderRun  # the name of an autoencoder run before runs/ (aegan 0.1.0)

__all__ = ["__version__", "AeganError", "AnomalyDetector", "AutoencoderRun", "AutoencoderTransformer",
           "ClassifierRun", "DataConfig", "DataError", "Dataset", "GAN", "GANRun", "ModelConfig", "Run",
           "RunConfig", "RunError", "TrainConfig", "UsageError", "fit", "load", "load_dataset"]
