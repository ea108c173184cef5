"""Loading and fitting any kind of run through the registry (runs/tasks.py): `load` rebuilds a
run folder as its kind's run class, `fit` trains the kind a config names."""

from __future__ import annotations

from pathlib import Path

from .. import checkpoint
from ..config import RunConfig
from ..data import Dataset
from ..errors import RunError
from .base import RunBase, read_config_json
from .recipe import fit_run
from .tasks import TASKS, Task


def task_of(config: RunConfig | dict, source: str = "config.json") -> Task:
    """The registered kind of a run config (or of config.json's raw object)."""
    name = config.get("task", "autoencoder") if isinstance(config, dict) else config.task
    if name not in TASKS:
        raise RunError(f"{source}: unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return TASKS[name]


def read_run_config(path: str | Path) -> RunConfig:
    """A run folder's config.json, with the model settings of its kind."""
    path = Path(path)
    raw = read_config_json(path)
    source = str(path / checkpoint.CONFIG)
    return RunConfig.from_dict(raw, source, task_of(raw, source).model_config)


def load(path: str | Path) -> RunBase:
    """A run folder written by `aegan train`, rebuilt from config.json alone: an AutoencoderRun
    (encode, decode, reconstruct, score), a GANRun (sample, interpolate) or a ClassifierRun."""
    cfg = read_run_config(path)
    return task_of(cfg).run_class.load(Path(path), cfg)


def fit(ds: Dataset, config: RunConfig, out: str | Path | None = None, *, overwrite: bool = False,
        progress: bool = True, resume: bool = False, observe=None, checks_per_epoch: int = 1) -> RunBase:
    """Train a run of `config` (its task: an autoencoder by default) on `ds`; with `out`, write a
    run folder as it goes, or with `resume` continue the one there from its newest checkpoint.
    `observe(record, run)`: called with each epoch's record, and `checks_per_epoch` - 1 times
    within each epoch with a partial one (runs/recipe.py)."""
    return fit_run(task_of(config).prepare, ds, config, out, overwrite=overwrite, progress=progress, resume=resume,
                   observe=observe, checks_per_epoch=checks_per_epoch)
