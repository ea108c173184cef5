"""Broken inputs not covered next to their loaders: each gets a one-line message and an exit
code, never a traceback; plus property-based tests of the loaders on random files."""

import gzip
import json
import shutil
import struct

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from aegan.data import load_dataset
from aegan.errors import DataError

from test_cli import _one_line_error

_settings = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_settings
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 20), st.integers(1, 6)),
                  elements=st.floats(-1e6, 1e6, width=32)))
def test_npy_and_csv_tables_load_back_exactly(tmp_path, x):
    np.save(tmp_path / "t.npy", x)
    np.testing.assert_array_equal(load_dataset(str(tmp_path / "t.npy"), "all").x, x)
    header = ",".join(f"c{i}" for i in range(x.shape[1]))
    (tmp_path / "t.csv").write_text(header + "\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in x))
    np.testing.assert_allclose(load_dataset(str(tmp_path / "t.csv"), "all").x, x, rtol=1e-6)


@_settings
@given(st.binary(max_size=200), st.booleans())
def test_random_bytes_as_idx_files_are_a_data_error(tmp_path, blob, compress):
    folder = tmp_path / "idx"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    name = "train-images-idx3-ubyte" + (".gz" if compress else "")
    (folder / name).write_bytes(gzip.compress(blob) if compress and len(blob) % 2 else blob)
    try:
        ds = load_dataset(str(folder), "train")
    except DataError:
        return
    assert len(ds) > 0  # random bytes that happen to form a valid IDX file are fine too


@_settings
@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 3))
def test_idx_headers_whose_sizes_do_not_match_the_body(tmp_path, h, w, missing):
    body = bytes(range(256))[: 2 * h * w - missing]
    (tmp_path / "i").mkdir(exist_ok=True)
    (tmp_path / "i" / "train-images-idx3-ubyte").write_bytes(struct.pack(">HBBIII", 0, 8, 3, 2, h, w) + body)
    if missing:
        with pytest.raises(DataError, match="truncated|size|bytes"):
            load_dataset(str(tmp_path / "i"), "train")
    else:
        assert load_dataset(str(tmp_path / "i"), "train").shape == (1, h, w)


def test_empty_datasets_are_refused(cli, tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((0, 4), np.float32))
    _one_line_error(cli("train", "ae", "--data", tmp_path / "e.npy", "--out", tmp_path / "o"), 1, "empty")
    np.savez(tmp_path / "e.npz", x=np.zeros((0, 1, 8, 8), np.float32))
    _one_line_error(cli("train", "gan", "--data", tmp_path / "e.npz", "--out", tmp_path / "o"), 1, "empty")
    assert not (tmp_path / "o").exists()  # nothing left behind


def test_config_with_an_unknown_family_or_task(cli, digits_run, tmp_path):
    run = tmp_path / "r"
    shutil.copytree(digits_run, run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["family"] = "transformer"
    (run / "config.json").write_text(json.dumps(cfg))
    _one_line_error(cli("info", run), 1, "transformer")
    cfg["model"]["family"], cfg["task"] = "ae", "diffusion"
    (run / "config.json").write_text(json.dumps(cfg))
    _one_line_error(cli("info", run), 1, "diffusion")


def test_weights_or_checkpoint_of_another_family(cli, digits_run, tmp_path):
    gan = tmp_path / "gan"
    assert cli("train", "gan", "--data", "digits", "--epochs", "1", "--arch", "mlp", "--hidden", "32",
               "--out", gan, "--quiet").code == 0
    run = tmp_path / "r"
    shutil.copytree(digits_run, run)
    shutil.copy(gan / "model.safetensors", run / "model.safetensors")
    _one_line_error(cli("encode", run, "--data", "digits", "--out", tmp_path / "c.npy"), 1, "different runs")
    # a GAN checkpoint dropped into an autoencoder run: refused by the weight check before resuming
    shutil.rmtree(run / "checkpoints", ignore_errors=True)
    shutil.copytree(gan / "checkpoints", run / "checkpoints")
    _one_line_error(cli("train", "--resume", run), 1, "different runs")


def _empty_and_cut_files(tmp_path):
    """(path, --stream on?) of every reader's empty file and file cut short."""
    from PIL import Image
    tmp_path.mkdir()
    np.save(tmp_path / "full.npy", np.random.default_rng(0).random((50, 6), np.float32))
    raw = (tmp_path / "full.npy").read_bytes()
    (tmp_path / "zero.npy").write_bytes(b"")
    (tmp_path / "cut.npy").write_bytes(raw[:200])
    (tmp_path / "header-cut.npy").write_bytes(raw[:40])
    np.savez(tmp_path / "full.npz", x=np.ones((50, 6)))
    (tmp_path / "zero.npz").write_bytes(b"")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "full.npz").read_bytes()[:300])
    (tmp_path / "zero.csv").write_text("")
    (tmp_path / "cut.csv").write_text("a,b,c\n1,2,3\n4,5")
    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / "train-images-idx3-ubyte").write_bytes(b"")
    for name, blob in (("zero.png", b""), ("cut.png", None)):
        folder = tmp_path / f"images-{name}" / "a"
        folder.mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{i}.png")
        (folder / name).write_bytes(blob if blob is not None else (folder / "0.png").read_bytes()[:30])
    files = ["zero.npy", "cut.npy", "header-cut.npy", "zero.npz", "cut.npz", "zero.csv", "cut.csv", "idx",
             "images-zero.png", "images-cut.png"]
    return [tmp_path / f for f in files]


@pytest.mark.parametrize("stream", ["off", "on"])
def test_every_reader_refuses_empty_and_cut_short_files_in_one_line(cli, tmp_path, stream):
    for path in _empty_and_cut_files(tmp_path / stream):
        r = cli("train", "ae", "--data", path, "--stream", stream, "--split", "all", "--epochs", "1", "--quiet",
                "--out", tmp_path / "run", "--overwrite")
        _one_line_error(r, 1, path.name)
