"""What a new user met in the first hour with their own data (issue: the first hour of a new
user): every row of a file read when a model is applied to it, runs that work from any folder,
printed next-commands that run, errors that name the real problem, runs that can be extended."""

import csv
import json
import os
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from aegan.cli import main


from test_cli import _one_line_error



@pytest.fixture
def table(tmp_path):
    """A 500-row, 6-column .npy of the user's own."""
    x = np.random.default_rng(0).normal(size=(500, 6)).astype(np.float32)
    path = tmp_path / "mine.npy"
    np.save(path, x)
    return path


def test_applying_a_model_to_a_file_reads_every_row_in_order(cli, tmp_path, table, monkeypatch):
    run = tmp_path / "det"
    r = cli("anomaly", "fit", "--data", table, "--epochs", "2", "--quiet", "--out", run)
    assert r.code == 0, r.err
    monkeypatch.chdir(tmp_path)
    for args in _next_commands(r.out):  # the detector's hints run as printed too
        assert cli(*args).code == 0, args
    r = cli("anomaly", "score", run, "--data", table, "--out", tmp_path / "s.csv")
    assert r.code == 0 and "all 500 rows of mine" in r.out, r.out
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert [int(row["index"]) for row in rows] == list(range(500)) and "flagged" in rows[0]
    r = cli("encode", run, "--data", table, "--out", tmp_path / "c.npy")
    assert r.code == 0 and np.load(tmp_path / "c.npy").shape[0] == 500 and "all 500 rows" in r.out
    r = cli("reconstruct", run, "--data", table, "--out", tmp_path / "r.npy")
    assert r.code == 0 and np.load(tmp_path / "r.npy").shape == (500, 6)
    r = cli("encode", run, "--data", table, "--split", "test", "--out", tmp_path / "t.npy", "--overwrite")
    assert r.code == 0 and np.load(tmp_path / "t.npy").shape[0] == 100 and "test split of mine (100 of 500" in r.out


def test_a_run_works_from_another_folder_and_finds_moved_data(cli, tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    x = np.random.default_rng(1).random((300, 1, 8, 8)).astype(np.float32)
    np.save(project / "pics.npy", x)
    monkeypatch.chdir(project)
    assert cli("train", "ae", "--data", "pics.npy", "--code-dim", "4", "--epochs", "1", "--quiet",
               "--out", "runs/ae").code == 0
    assert cli("train", "gan", "--data", "pics.npy", "--conv-channels", "8,16", "--epochs", "1", "--quiet",
               "--out", "runs/gan").code == 0
    monkeypatch.chdir(tmp_path)  # elsewhere
    r = cli("train", "--resume", "project/runs/ae", "--epochs", "2", "--quiet")
    assert r.code == 0, r.err
    assert cli("evaluate", "project/runs/ae").code == 0
    r = cli("report", "project/runs/ae")
    assert r.code == 0 and "Latent map" in (project / "runs/ae/report.html").read_text()
    assert "left out" not in (project / "runs/ae/report.html").read_text()
    assert cli("sample", "project/runs/gan", "--out", "s.png").code == 0
    # moved: one line that says where it was and what to do; --data points at the new place
    shutil.move(project / "pics.npy", tmp_path / "moved.npy")
    _one_line_error(cli("evaluate", "project/runs/ae"), 1, str(project / "pics.npy"), "--data")
    _one_line_error(cli("train", "--resume", "project/runs/ae", "--epochs", "3", "--quiet"), 1, "--data")
    assert cli("evaluate", "project/runs/ae", "--data", "moved.npy").code == 0
    assert cli("report", "project/runs/ae", "--data", "moved.npy").code == 0
    r = cli("train", "--resume", "project/runs/ae", "--data", "moved.npy", "--epochs", "3", "--quiet")
    assert r.code == 0, r.err
    assert cli("evaluate", "project/runs/ae").code == 0  # the new place is recorded
    # changed: used, with a note
    np.save(tmp_path / "moved.npy", x[:250])
    r = cli("evaluate", "project/runs/ae")
    assert r.code == 0 and "has changed since" in r.err


def _next_commands(out: str) -> list[list[str]]:
    lines = out.split("next:", 1)[1].strip().splitlines()
    cmds = [line.split("#", 1)[0].strip() for line in lines if not line.strip().startswith("#")]
    return [shlex.split(c)[1:] for c in cmds if c]


@pytest.mark.parametrize("train", [
    ["ae", "--data", "wine.csv", "--label-column", "class", "--code-dim", "4"],  # a table
    ["ae", "--data", "digits", "--arch", "conv", "--code-dim", "4"],  # images
    ["vae", "--data", "wine.csv", "--label-column", "class", "--code-dim", "2"],
    ["gan", "--data", "wine.csv", "--label-column", "class"],  # a table GAN
    ["gan", "--data", "ring", "--max-samples", "1000"],  # a 2-D toy
    ["gan", "--data", "digits", "--conv-channels", "8,16"],  # images
    ["classifier", "--data", "digits", "--conv-channels", "8,16"],
])
def test_every_printed_next_command_runs_as_printed(cli, tmp_path, monkeypatch, train):
    from sklearn.datasets import load_wine
    monkeypatch.chdir(tmp_path)
    wine = load_wine()
    with open("wine.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*wine.feature_names, "class"])
        w.writerows([[*row, int(y)] for row, y in zip(wine.data, wine.target)])
    r = cli("train", *train, "--epochs", "1", "--quiet", "--out", "runs/r")
    assert r.code == 0, r.err
    commands = _next_commands(r.out)
    assert len(commands) >= 2
    for args in commands:
        res = cli(*args)
        assert res.code == 0, (args, res.err)


def test_errors_name_the_real_problem(cli, tmp_path):
    _one_line_error(cli("report", tmp_path / "nosuch"), 1, "no run folder")
    _one_line_error(cli("train", "ae", "--data", tmp_path / "nosuch.npy", "--out", tmp_path / "r"), 1,
                    "no such file", "nosuch.npy")
    r = cli("train", "ae", "--data", "fashion-mnst", "--out", tmp_path / "r")  # a name: the list of names
    _one_line_error(r, 1, "no dataset named")


def test_a_finished_run_is_extended_as_if_trained_that_long(cli, tmp_path):
    args = ["ae", "--data", "digits", "--hidden", "32", "--code-dim", "4", "--quiet"]
    assert cli("train", *args, "--epochs", "4", "--out", tmp_path / "four").code == 0
    assert cli("train", *args, "--epochs", "2", "--out", tmp_path / "two").code == 0
    r = cli("train", "--resume", tmp_path / "two", "--quiet")
    assert r.code == 0 and "already finished its 2 epochs" in r.out
    _one_line_error(cli("train", "--resume", tmp_path / "two", "--epochs", "1"), 2, "already trained 2 epochs")
    r = cli("train", "--resume", tmp_path / "two", "--epochs", "4", "--quiet")
    assert r.code == 0, r.err
    assert (tmp_path / "two" / "model.safetensors").read_bytes() == (tmp_path / "four" / "model.safetensors").read_bytes()
    assert json.loads((tmp_path / "two" / "config.json").read_text())["train"]["epochs"] == 4
    assert [json.loads(line)["epoch"] for line in open(tmp_path / "two" / "metrics.jsonl")] == [1, 2, 3, 4]
    _one_line_error(cli("train", "--epochs", "3", "ae", "--data", "digits", "--out", tmp_path / "x"), 2,
                    "applies to --resume")
    _one_line_error(cli("train", "--resume", tmp_path / "two", "--lr", "0.1"), 2, "--lr cannot change when resuming")


def test_samples_are_fresh_unless_a_seed_is_given(cli, tmp_path):
    import aegan
    gan = aegan.GAN(hidden=(16, 16), epochs=1, batch_size=128, random_state=0).fit(aegan.load_dataset("ring").x)
    assert not np.array_equal(gan.sample(5), gan.sample(5))
    np.testing.assert_array_equal(gan.sample(5, seed=3), gan.sample(5, seed=3))
    run = gan.run_
    assert not np.array_equal(run.sample(5), run.sample(5)) and not np.array_equal(run.interpolate(), run.interpolate())
    gan.save(tmp_path / "g")
    r = cli("sample", tmp_path / "g", "-n", "5", "--out", tmp_path / "a.npy")
    seed = int(r.out.split("--seed ")[1].rstrip(")\n"))
    assert cli("sample", tmp_path / "g", "-n", "5", "--seed", seed, "--out", tmp_path / "b.npy").code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_python_errors_name_python_parameters_and_the_estimators_agree():
    import aegan
    from aegan.errors import DataError
    x = aegan.load_dataset("digits").x
    for est in (aegan.AnomalyDetector(epochs=5), aegan.AutoencoderTransformer(epochs=5)):
        with pytest.raises(DataError, match="fewer than one batch") as e:
            est.fit(x[:40])
        assert "batch_size=128" in str(e.value) and "--batch-size" not in str(e.value)
    with pytest.raises(aegan.UsageError, match="needs a vae .*; an ae model"):
        aegan.AnomalyDetector(family="ae", arch="mlp", score="elbo", epochs=1).fit(x[:300])
    # 129 images, batches of 128: the lone last example joins the batch before (batch norm needs two)
    t = aegan.AutoencoderTransformer(arch="conv", code_dim=4, epochs=1, random_state=0).fit(x[:129])
    assert t.transform(x[:3]).shape == (3, 4)


def test_threads_are_recorded_and_used_again_on_resume(cli, tmp_path, monkeypatch):
    import torch
    before = torch.get_num_threads()
    args = ["train", "ae", "--data", "digits", "--hidden", "32", "--code-dim", "4", "--quiet"]
    assert cli(*args, "--threads", "1", "--epochs", "1", "--out", tmp_path / "one").code == 0
    assert json.loads((tmp_path / "one" / "config.json").read_text())["train"]["threads"] == 1
    assert torch.get_num_threads() == before  # the caller's setting is left as it was
    monkeypatch.setenv("AEGAN_THREADS", "1")
    assert cli(*args, "--epochs", "1", "--out", tmp_path / "env").code == 0
    assert json.loads((tmp_path / "env" / "config.json").read_text())["train"]["threads"] == 1
    monkeypatch.setenv("AEGAN_THREADS", "lots")
    _one_line_error(cli(*args, "--epochs", "1", "--out", tmp_path / "bad"), 2, "AEGAN_THREADS")
    _one_line_error(cli(*args, "--threads", "0", "--out", tmp_path / "bad"), 2, "--threads 0")


def test_tables_pick_sizes_labels_columns_and_delimiters(cli, tmp_path):
    from sklearn.datasets import load_wine
    wine = load_wine()
    header = [n.replace("/", "_") for n in wine.feature_names]
    lines = [";".join(["id", *header, "class"])]  # semicolons, an id column, a class column
    lines += [";".join([str(i), *map(str, row), str(int(y))]) for i, (row, y) in enumerate(zip(wine.data, wine.target))]
    (tmp_path / "wine.csv").write_text("\n".join(lines) + "\n")
    r = cli("train", "ae", "--data", tmp_path / "wine.csv", "--drop-columns", "id", "--epochs", "1", "--quiet",
            "--out", tmp_path / "r")
    assert r.code == 0, r.err
    assert "column 'class' is taken as the class labels" in r.err
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["model"]["code_dim"] == 3 and cfg["data_info"]["shape"] == [13]  # 13 features: code 13 // 4
    assert cfg["data_info"]["classes"] is None and cfg["data_info"]["num_examples"] == 142
    r = cli("data", tmp_path / "wine.csv", "--columns", "alcohol,magnesium", "--label-column", "none")
    assert r.code == 0 and "table of shape (2,)" in r.out and "labels: none" in r.out
    _one_line_error(cli("data", tmp_path / "wine.csv", "--columns", "alcohl"), 2, "--columns 'alcohl'")
    _one_line_error(cli("data", "digits", "--columns", "1"), 2, "CSV")
    import aegan
    x = aegan.load_dataset(str(tmp_path / "wine.csv"), "all", drop_columns="id").x
    assert aegan.AutoencoderTransformer(epochs=1, random_state=0).fit(x).transform(x).shape == (178, 3)


def test_help_shows_what_each_command_really_uses(cli, capsys):
    def helptext(*args):
        with pytest.raises(SystemExit):
            main([*args, "--help"])
        return " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    vae = helptext("train", "vae")
    assert "--beta" in vae and "--noise" not in vae and "--sparsity" not in vae and "examples:" in vae
    assert "(default: None)" not in vae and "(default: )" not in vae and "None:" not in vae
    assert "examples per step (default: 64)" in helptext("train", "gan")
    fit = helptext("anomaly", "fit")
    assert "conv denoising autoencoder" in fit and "(default: 32)" not in fit
    assert "classifier" in helptext()
    assert "(default: dcgan for images, mlp for tables)" in helptext("train", "gan")  # once, not twice
    _one_line_error(cli("train", "ae", "--data", "digits", "--code_dim", "4", "--out", "x"), 2,
                    "did you mean --code-dim", "aegan train ae --help")


def test_a_gan_whose_discriminator_wins_outright_is_warned_about_once(cli, tmp_path):
    r = cli("train", "gan", "--data", "digits", "--max-samples", "256", "--conv-channels", "16,32", "--lr-g", "1e-6",
            "--lr-d", "2e-3", "--epochs", "14", "--quiet", "--out", tmp_path / "g")
    assert r.code == 0, r.err
    assert r.err.count("the discriminator wins outright") == 1 and "256 examples" in r.err
    r = cli("train", "gan", "--data", "ring", "--max-samples", "2000", "--epochs", "1", "--quiet", "--out", tmp_path / "r")
    assert r.code == 0 and "wins outright" not in r.err


def test_codes_have_feature_names_and_table_maps_a_legend(tmp_path):
    import aegan
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    x = aegan.load_dataset("digits").x.reshape(-1, 64)
    pipe = make_pipeline(StandardScaler(), aegan.AutoencoderTransformer(code_dim=3, epochs=1, random_state=0)).fit(x)
    assert list(pipe.get_feature_names_out()) == [f"autoencodertransformer{i}" for i in range(3)]
    from aegan.viz import latent_map_figure
    fig = latent_map_figure(np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 3, None, "a table")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["0", "1", "2"]


@pytest.mark.parametrize("args", [["--help"], ["train", "ae", "--help"], ["anomaly", "fit", "--help"],
                                  ["train", "ae", "--data", "digits", "--code_dim", "4", "--out", "x"],
                                  ["sample", "RUN", "--out", "s.png", "--seed", "many"]])
def test_help_and_usage_errors_do_not_load_torch(args):
    import subprocess
    import sys
    src = Path(__file__).resolve().parents[1] / "src"
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "aegan", *args], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(src)}, timeout=60)
    assert r.returncode in (0, 2), r.stderr
    loaded = {line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "aegan.cli" in loaded and not {"torch", "sklearn", "matplotlib"} & loaded


def test_every_commands_help_renders():
    """argparse formats help strings with %: a bare % in one (a measured '-34.6%') breaks that command's
    --help with a traceback. Walk every (sub)command's parser and format its help."""
    import argparse

    from aegan.cli import build_parser

    def walk(parser, words):
        yield words, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, [*words, name])

    seen = 0
    for words, parser in walk(build_parser(), []):
        assert parser.format_help(), words
        seen += 1
    assert seen > 20  # the train kinds and every other command
