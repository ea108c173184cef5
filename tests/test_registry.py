"""The registry of kinds of run (runs/registry.py) and the defects found in the review that
introduced it: each kind reached through the registry only, commands refusing a run of the wrong
kind in one line, data settings passed whole, and a new kind of run made of one file's worth of
code plus one registry entry."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import aegan
from aegan.checkpoint import load_state
from aegan.config import RunConfig
from aegan.data import Normalizer
from aegan.runs import registry
from aegan.runs.base import Job, RunBase, data_info
from aegan.runs.tasks import TASKS, Task
from aegan.runs.recipe import split_feed, training_feed
from aegan.optim import make_optimizer
from aegan.train import train_on_loss

from test_cli import _one_line_error

OLD = Path(__file__).parent / "fixtures" / "runs-0.1.0"


def test_every_registered_kind_is_found_in_its_module():
    for name, task in TASKS.items():
        assert task.run_class.label == name and callable(task.prepare)


def test_load_returns_each_registered_kind():
    for name, kind in (("ae", "autoencoder"), ("gan", "gan"), ("classifier", "classifier")):
        run = aegan.load(OLD / name)
        assert type(run) is TASKS[kind].run_class and run.label == kind


def test_commands_refuse_a_run_of_another_kind_in_one_line(cli, tmp_path):
    r = cli("encode", OLD / "classifier", "--data", "digits", "--out", tmp_path / "c.npy")
    _one_line_error(r, 2, "holds a classifier run", "needs an autoencoder run")
    _one_line_error(cli("sample", OLD / "ae", "--out", tmp_path / "s.npy"), 2, "autoencoder run", "gan run")
    _one_line_error(cli("anomaly", "score", OLD / "gan", "--data", "ring", "--out", tmp_path / "s.csv"), 1,
                    "not an anomaly detector")
    _one_line_error(cli("evaluate", OLD / "classifier"), 2, "classifier run")
    assert not list(tmp_path.iterdir())


def test_grey_batches_of_shape_n_h_w_are_taken_where_fit_took_them():
    x = aegan.load_dataset("digits", "train").x[:200, 0]  # (200, 8, 8): grey images without a channel axis
    t = aegan.AutoencoderTransformer(code_dim=4, hidden=(32,), epochs=1, random_state=0).fit(x)
    assert t.transform(x).shape == (200, 4)
    assert t.transform(x[:3]).shape == (3, 4)  # three examples, not one of three channels
    assert t.transform(x[0]).shape == (1, 4)  # one example (H, W)
    det = aegan.AnomalyDetector(arch="mlp", hidden=(32,), code_dim=4, epochs=1, score="recon", random_state=0)
    assert det.fit(x).decision_function(x[:3]).shape == (3,)


def test_load_dataset_takes_a_runs_data_settings_whole():
    dc = aegan.DataConfig(data="digits", image_size=12)
    assert aegan.load_dataset(dc, "test").shape == (1, 12, 12)
    assert aegan.load_dataset("digits", "test", image_size=12).shape == (1, 12, 12)
    with pytest.raises(TypeError):
        aegan.load_dataset(dc, "test", image_size=4)


def test_a_gan_trained_at_another_image_size_is_evaluated_at_that_size(cli, tmp_path):
    size = ["--data", "digits", "--image-size", "12", "--epochs", "1", "--quiet"]
    assert cli("train", "classifier", *size, "--conv-channels", "8,16", "--out", tmp_path / "features").code == 0
    assert cli("train", "gan", *size, "--conv-channels", "8,16", "--out", tmp_path / "gan").code == 0
    r = cli("evaluate", tmp_path / "gan", "--features", tmp_path / "features", "--json")
    assert r.code == 0, r.err
    result = json.loads(r.out)
    assert result["n"] == 359 and result["fcd"]["value"] > result["fcd"]["real_vs_real"] >= 0


def test_the_classifier_takes_the_training_switches_it_offers(cli, tmp_path):
    args = ["train", "classifier", "--data", "digits", "--conv-channels", "8,16", "--quiet", "--max-samples", "300"]
    r = cli(*args, "--epochs", "1", "--precision", "fp16", "--out", tmp_path / "half")
    assert r.code == 0, r.err
    # fp16 trains with a gradient scaler, saved with the checkpoint: the switch was used, not ignored
    assert load_state(next((tmp_path / "half" / "checkpoints").iterdir()) / "state.pt")["scalers"]
    if not torch.cuda.is_available():
        _one_line_error(cli(*args, "--device", "cuda", "--out", tmp_path / "gpu"), 2, "cuda")
        assert not (tmp_path / "gpu").exists()


# --- a new kind of run: one file's worth of code and one registry entry ------------------------

@dataclasses.dataclass
class MeanConfig:
    scale: float = dataclasses.field(default=1.0, metadata={"help": "a factor on the learned mean"})


class MeanModel(torch.nn.Module):
    """Learns the mean example: the smallest model with a loss."""

    def __init__(self, shape):
        super().__init__()
        self.mean = torch.nn.Parameter(torch.zeros(shape))

    def loss(self, x):
        return {"loss": (x - self.mean).pow(2).mean()}


class MeanRun(RunBase):
    label = "mean"

    @classmethod
    def build_module(cls, config, normalizer):
        return MeanModel(tuple(config.data_info["shape"]))

    def mean(self) -> np.ndarray:
        return self.normalizer.inverse(self.module.mean.detach()[None])[0]


def prepare(ds, config, accel):
    normalizer = Normalizer.fit(ds.x, ds.kind, "unit" if ds.kind == "image" else "none")
    model = MeanModel(ds.shape)
    val, train = split_feed(training_feed(ds, normalizer, config.train, accel), config.train)
    run = MeanRun(dataclasses.replace(config, data_info=data_info(ds, normalizer)), model, normalizer)
    opt = make_optimizer(model.parameters(), 0.1)
    return Job(run, lambda ctl, on_epoch, progress: train_on_loss(
        model, train, val, config.train, opt=opt, on_epoch=on_epoch, progress=progress, control=ctl, accel=accel),
        lambda: {"optimizer": opt.state_dict()})


RUN_CLASS = MeanRun  # with `prepare`: what the registry entry's module holds


def test_a_new_kind_of_run_is_one_file_and_one_registry_entry(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(TASKS, "mean", Task("mean", __name__, MeanConfig, commands={"mean": "the mean example"},
                                            model_for=lambda command: MeanConfig()))
    out = tmp_path / "mean"
    r = cli("train", "mean", "--data", "digits", "--epochs", "3", "--lr", "0.1", "--quiet", "--out", out)
    assert r.code == 0, r.err
    assert "trained mean on digits" in r.out and "next:" in r.out
    run = aegan.load(out)
    assert isinstance(run, MeanRun) and json.loads((out / "config.json").read_text())["task"] == "mean"
    target = aegan.load_dataset("digits", "train").x.mean(0)
    assert np.abs(run.mean() - target).max() < np.abs(target).max() / 2  # it learned something
    assert cli("info", out).code == 0 and cli("report", out).code == 0
    assert cli("train", "--resume", out, "--quiet").code == 0  # a finished run resumes to its end
    _one_line_error(cli("encode", out, "--data", "digits", "--out", tmp_path / "c.npy"), 2, "mean run")
    _one_line_error(cli("evaluate", out), 2, "mean run")
    cfg = registry.read_run_config(out)
    assert isinstance(cfg, RunConfig) and isinstance(cfg.model, MeanConfig)
