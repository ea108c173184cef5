"""What every kind of run has: the run object (`RunBase`: config, normaliser, network, folder)
and what a kind of run prepares for the fit recipe (`Job`). Their registry: runs/tasks.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from shlex import quote
from typing import Callable

import numpy as np
import torch

from .. import checkpoint
from ..config import DataConfig, RunConfig
from ..data import Dataset, Normalizer, load_dataset
from ..data.arrays import as_examples, check_finite
from ..data.location import located
from .tasks import TASKS
from ..errors import DataError, RunError, UsageError, a

EPOCH_PICTURES = 6  # picture grids over the epochs shown in a report


@dataclasses.dataclass
class Figure:
    """One picture of a report: a PIL image, a matplotlib figure or the Path of a PNG, with its
    caption; `keep`: also written into the run folder under this name."""

    image: object
    caption: str
    keep: str | None = None
    width: int | None = None


@dataclasses.dataclass
class Section:
    """A titled group of pictures in a run's report."""

    title: str
    figures: list[Figure]
    note: str = ""


class RunBase:
    """What every trained run has: its config, its normaliser, its network (`module`), an
    optional folder, and the per-epoch records. A kind of run subclasses it (runs/*.py) and
    says how it is rebuilt (`build_module`), described and looked at."""

    label = "run"  # the task name in config.json: "autoencoder", "gan", ... (runs/tasks.py)
    commands = ""  # the commands that use this kind, for messages

    def __init__(self, config: RunConfig, module: torch.nn.Module, normalizer: Normalizer,
                 path: Path | None = None):
        self.config, self.module, self.normalizer, self.path = config, module, normalizer, path
        self.history: list[dict] = []  # per-epoch records of a run trained in this process
        self.data_override: str | None = None  # --data: where the training data is now, if it moved
        self.module.eval()

    @property
    def kind(self) -> str:
        return self.config.data_info["kind"]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.config.data_info["shape"])

    @property
    def title(self) -> str:
        """One line naming the model (loss curves, reports)."""
        return self.label

    def metrics(self) -> list[dict]:
        """One record per epoch: from metrics.jsonl, or from training in this process."""
        return checkpoint.read_jsonl(self.path / checkpoint.METRICS) if self.path else self.history

    @property
    def data_config(self) -> DataConfig:
        """The run's data settings, pointing where the data is now (data/location.py)."""
        return located(self.config.data, self.config.data_info, self.data_override, str(self.path or "this run"))

    def dataset(self, split: str) -> Dataset:
        """A split of the data this run was trained on, read with the run's data settings."""
        return load_dataset(self.data_config, split)

    def to_model(self, x) -> torch.Tensor:
        """Raw examples (a Dataset or an array) -> model-space tensor, after checking the shape.
        Arrays: a batch (N, *shape), one example (*shape), and for grey images (N, H, W) or (H, W)."""
        arr = x.x if isinstance(x, Dataset) else np.asarray(x)
        if not isinstance(x, Dataset):
            if tuple(arr.shape) == self.shape:  # one example
                arr = arr[None]
            elif self.kind == "image" and self.shape[0] == 1 and tuple(arr.shape) == self.shape[1:]:
                arr = arr[None, None]  # one grey image (H, W)
            arr, _ = as_examples(arr, "input")
        if tuple(arr.shape[1:]) != self.shape:
            raise DataError(f"data of shape {tuple(arr.shape[1:])} per example does not fit this run, which was "
                            f"trained on {self.kind} data of shape {self.shape}; use data like the training data "
                            "(e.g. the same --image-size)")
        check_finite(arr, "input")
        return self.normalizer.transform(arr)

    @property
    def device(self) -> torch.device:
        """Where the network is: the CPU, except while it trains on a GPU."""
        return next(self.module.parameters()).device

    @torch.no_grad()
    def map_batches(self, fn, t: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """fn over `t` in batches on the network's device, without gradients; (N, ...) -> (N, ...)
        on the CPU."""
        dev = self.device
        return (torch.cat([fn(t[i:i + batch_size].to(dev)).float().cpu() for i in range(0, len(t), batch_size)])
                if len(t) else t)

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write config.json and model.safetensors into a run folder."""
        path = checkpoint.prepare_run_dir(path, overwrite)
        checkpoint.write_text(path / checkpoint.CONFIG, self.config.to_json())
        checkpoint.save_weights(path / checkpoint.WEIGHTS, self.module)
        self.path = path
        return path

    # --- what a kind of run says about itself -------------------------------------------------
    @classmethod
    def build_module(cls, config: RunConfig, normalizer: Normalizer) -> torch.nn.Module:
        """A fresh network for a run's config (its data_info filled in)."""
        raise NotImplementedError

    @classmethod
    def open(cls, path: str | Path) -> "RunBase":
        """A run folder of this kind; a folder of another kind is refused with one line."""
        path = Path(path)
        raw = read_config_json(path)
        task = raw.get("task", "autoencoder")
        if task != cls.label:
            raise RunError(f"{path} holds {a_run(task)}, but {a_run(cls.label)} is needed here")
        return cls.load(path, RunConfig.from_dict(raw, str(path / checkpoint.CONFIG), TASKS[cls.label].model_config))

    @classmethod
    def load(cls, path: str | Path, config: RunConfig) -> "RunBase":
        """Rebuild the network from config.json alone, then load its safetensors weights."""
        path = Path(path)
        try:
            normalizer = Normalizer.from_dict(config.data_info["normalizer"])
            module = cls.build_module(config, normalizer)
        except (KeyError, TypeError, ValueError) as e:  # UsageError is a ValueError
            raise RunError(f"{path}/config.json: cannot rebuild the {cls.label} ({e}); the file is damaged "
                           "or was not written by aegan") from None
        checkpoint.load_weights(path / checkpoint.WEIGHTS, module)
        return cls(config, module, normalizer, path)

    def summary(self) -> str:
        """The line printed after training: the model, the data and the last epoch's numbers."""
        info, last = self.config.data_info, (self.metrics() or [{}])[-1]
        shown = "  ".join(f"{k}={v:.4g}" for k, v in last.items() if self.shown_metric(k, v))
        return (f"trained {self.title} on {info['name']} ({info['num_examples']} examples, "
                f"{info['kind']} {tuple(info['shape'])}): {shown}")

    @staticmethod
    def shown_metric(key: str, value) -> bool:
        return isinstance(value, float) and key.endswith("loss")

    def next_commands(self) -> list[str]:
        """Commands worth running next, each runnable as printed (after a '#': a comment); a line
        that starts with '#' is advice, not a command."""
        return [f"aegan report {quote(str(self.path))}        # curves and pictures in one HTML page"]

    @property
    def has_evaluation(self) -> bool:
        """Whether `aegan evaluate` has metrics for this kind of run."""
        return type(self).evaluation is not RunBase.evaluation

    def describe(self) -> list[tuple[str, str]]:
        """(heading, text) lines of `aegan info` about the model."""
        return [("model", self.title)]

    def learning_rates(self) -> str:
        """The learning rate(s) as `aegan info` shows them."""
        return f"lr {self.config.train.lr}"

    def evaluation(self, n: int, features: str | None, seed: int) -> dict:
        """`aegan evaluate`: the metrics that fit this kind of run."""
        raise UsageError(f"aegan evaluate takes autoencoder and GAN runs; this is a {self.label} run")

    def report_sections(self) -> list[Section]:
        """What `aegan report` shows of this run beside its curves, evaluation and settings."""
        return []

    def epoch_pictures(self, prefix: str) -> list[Figure]:
        """At most EPOCH_PICTURES of the folder's `<prefix>_epochNNN.png`, spread over the epochs."""
        files = sorted(self.path.glob(f"{prefix}_epoch*.png"))
        if len(files) > EPOCH_PICTURES:
            keep = np.unique(np.linspace(0, len(files) - 1, EPOCH_PICTURES).round().astype(int))
            files = [files[i] for i in keep]
        return [Figure(f, f"epoch {int(f.stem.split('epoch')[1])}", width=420) for f in files]


@dataclasses.dataclass
class Job:
    """What a kind of run prepares for the shared fit recipe (runs/recipe.py): the run (config
    complete, network inside), the call that trains it through the driver, and its extras.

    train(control, on_epoch, progress) -> the per-epoch records;
    pictures(record, folder) -> {name: PIL image} written there for this epoch (TensorBoard gets them);
    annotate(record): add numbers to an epoch's record before it is kept;
    final_state() -> what state.pt holds besides the RNG (the optimisers)."""

    run: RunBase
    train: Callable
    final_state: Callable[[], dict]
    pictures: Callable[[dict, Path], dict] | None = None
    annotate: Callable[[dict], None] | None = None


def read_config_json(path: Path) -> dict:
    """A run folder's config.json as a JSON object, with one-line errors for a missing folder."""
    if not path.is_dir():
        raise RunError(f"no run folder at {path}; expected a folder written by 'aegan train ... --out {path}'")
    raw = checkpoint.read_json(path / checkpoint.CONFIG)
    if not isinstance(raw, dict):
        raise RunError(f"{path / checkpoint.CONFIG}: expected a JSON object, found {type(raw).__name__}")
    return raw


def a_run(label: str) -> str:
    """'an autoencoder run', 'a gan run': a kind of run named in a message."""
    return f"{a(label)} run"


def data_info(ds: Dataset, normalizer: Normalizer, **extra) -> dict:
    """What config.json records of the training data: enough to check and map new data."""
    return {"kind": ds.kind, "shape": list(ds.shape), "name": ds.name, "source": ds.source,
            "classes": ds.classes, "num_examples": len(ds), "dtype": str(ds.x.dtype),
            "normalizer": normalizer.to_dict(), **extra}


__all__ = ["Figure", "Job", "RunBase", "Section", "data_info"]
