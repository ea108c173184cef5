"""aegan: autoencoders and GANs on your own data, from the shell or from Python."""

__version__ = "0.1.0"

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from .data import Dataset, load_dataset  # noqa: E402
from .errors import AeganError, DataError, RunError, UsageError  # noqa: E402
from .run import Run, fit, load  # noqa: E402
from .estimators import GAN, AutoencoderTransformer  # noqa: E402
from .anomaly import AnomalyDetector  # noqa: E402

__all__ = ["__version__", "AeganError", "AnomalyDetector", "AutoencoderTransformer", "GAN", "DataConfig", "DataError", "Dataset",
           "ModelConfig", "Run", "RunConfig", "RunError", "TrainConfig", "UsageError", "fit", "load",
           "load_dataset"]
