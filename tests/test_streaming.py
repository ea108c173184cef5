"""A .npy read batch by batch from disk (--stream on) trains exactly like the same file in memory."""

import numpy as np
import pytest
from safetensors.numpy import load_file

from aegan.data import Normalizer, load_dataset
from aegan.data.npy_rows import NpyRows, read_header


def _rows(path) -> NpyRows:
    ds = load_dataset(str(path), "all", stream="on")
    assert isinstance(ds.x, NpyRows)
    return ds.x


@pytest.mark.parametrize("shape", [(50, 7), (50, 5, 6), (50, 2, 5, 6), (50, 5, 6, 3)])
def test_rows_read_from_disk_equal_numpy(tmp_path, shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rows = _rows(tmp_path / "x.npy")
    want = load_dataset(str(tmp_path / "x.npy"), "all", stream="off").x  # the in-memory layout
    assert rows.shape == want.shape and rows.dtype == want.dtype
    idx = rng.permutation(50)[:17]
    idx[3] = idx[4]  # a repeat
    np.testing.assert_array_equal(rows[idx], want[idx])
    np.testing.assert_array_equal(rows[5:9], want[5:9])
    np.testing.assert_array_equal(rows[7], want[7])
    sub = rows.subset(np.arange(10, 40))
    np.testing.assert_array_equal(sub[[0, 29, 3]], want[10:40][[0, 29, 3]])
    np.testing.assert_array_equal(np.concatenate(list(sub.chunks(max_bytes=200))), want[10:40])


def test_split_and_normaliser_of_a_streamed_file_match_memory(tmp_path):
    x = np.random.default_rng(1).normal(3, 2, size=(400, 6)).astype(np.float32)
    np.save(tmp_path / "t.npy", x)
    for split in ("train", "test"):
        lazy = load_dataset(str(tmp_path / "t.npy"), split, stream="on")
        full = load_dataset(str(tmp_path / "t.npy"), split, stream="off")
        assert isinstance(lazy.x, NpyRows) and not isinstance(full.x, NpyRows)
        np.testing.assert_array_equal(np.asarray(lazy.x), full.x)
        a, b = Normalizer.fit(lazy.x, "table"), Normalizer.fit(full.x, "table")
        np.testing.assert_allclose(a.mean, b.mean, rtol=1e-10)
        np.testing.assert_allclose(a.std, b.std, rtol=1e-10)


@pytest.mark.parametrize("family,data,extra", [
    ("ae", "img.npy", []),
    ("vae", "tab.npy", ["--code-dim", "3"]),  # sampling: the loader must not touch the global RNG
    ("gan", "img.npy", ["--epochs", "1"]),
])
def test_streamed_training_gives_the_same_weights_as_in_memory(cli, tmp_path, family, data, extra):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "img.npy", rng.integers(0, 256, (300, 12, 12), dtype=np.uint8))
    np.save(tmp_path / "tab.npy", rng.normal(size=(300, 10)).astype(np.float32))
    runs = {}
    for stream in ("on", "off"):
        out = tmp_path / f"run-{stream}"
        r = cli("train", family, "--data", tmp_path / data, "--stream", stream, "--epochs", "2", "--batch-size", "32",
                *extra, "--out", out, "--quiet")
        assert r.code == 0, r.err
        runs[stream] = load_file(str(out / "model.safetensors"))
    for k, v in runs["off"].items():
        np.testing.assert_array_equal(runs["on"][k], v, err_msg=k)


def test_streaming_with_no_worker_processes_and_resuming(cli, tmp_path):
    np.save(tmp_path / "img.npy", np.random.default_rng(0).integers(0, 256, (200, 8, 8), dtype=np.uint8))
    out = tmp_path / "run"
    r = cli("train", "ae", "--data", tmp_path / "img.npy", "--stream", "on", "--workers", "0", "--epochs", "2",
            "--out", out, "--quiet")
    assert r.code == 0, r.err
    assert cli("train", "--resume", out, "--epochs", "3", "--quiet").code == 0  # extended: reads the stream again
    assert cli("encode", out, "--data", tmp_path / "img.npy", "--out", tmp_path / "z.npy").code == 0
    r = cli("data", tmp_path / "img.npy", "--stream", "on")
    assert r.code == 0 and "160 examples" in r.out and "read from disk batch by batch" in r.out
    assert "read from disk" not in cli("data", tmp_path / "img.npy").out  # 12 KB: auto loads it
    assert np.load(tmp_path / "z.npy").shape[0] == 200  # every row of the file


def test_bad_streamed_files(cli, tmp_path):
    x = np.arange(600, dtype=np.float32).reshape(100, 6)
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    r = cli("train", "ae", "--data", tmp_path / "f.npy", "--stream", "on", "--out", tmp_path / "r1")
    assert r.code != 0 and "Fortran order" in r.err and "Traceback" not in r.err
    np.save(tmp_path / "cut.npy", x)
    data = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-100])
    r = cli("train", "ae", "--data", tmp_path / "cut.npy", "--stream", "on", "--out", tmp_path / "r2")
    assert r.code != 0 and "truncated" in r.err and "Traceback" not in r.err
    bad = x.copy()
    bad[70, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    r = cli("train", "ae", "--data", tmp_path / "nan.npy", "--stream", "on", "--out", tmp_path / "r3")
    assert r.code != 0 and "row 70" in r.err
    np.save(tmp_path / "img.npy", np.zeros((20, 8, 8), np.uint8))
    r = cli("train", "ae", "--data", tmp_path / "img.npy", "--stream", "on", "--image-size", "4", "--out", tmp_path / "r4")
    assert r.code != 0 and "--stream off" in r.err
    r = cli("train", "ae", "--data", tmp_path / "img.npy", "--workers", "-1", "--out", tmp_path / "r5")
    assert r.code == 2 and "--workers -1" in r.err
    assert not any((tmp_path / f"r{i}").exists() for i in range(1, 6))


def test_a_bad_stream_value_is_refused():
    from aegan.errors import UsageError
    with pytest.raises(UsageError, match="--stream 'maybe'"):
        load_dataset("digits", stream="maybe")


def test_header_is_read_without_the_data(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 4), np.int16))
    shape, fortran, dtype, offset = read_header(tmp_path / "x.npy")
    assert shape == (3, 4) and not fortran and dtype == np.int16 and offset % 64 == 0


def test_an_image_folder_streams_like_it_loads(cli, tmp_path):
    from PIL import Image
    from aegan.data.images import ImageFiles
    rng = np.random.default_rng(0)
    for i in range(40):
        d = tmp_path / "imgs" / ("cat" if i % 2 else "dog")
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(d / f"{i:03d}.png")
    lazy = load_dataset(str(tmp_path / "imgs"), "train", stream="on", image_size=8)
    full = load_dataset(str(tmp_path / "imgs"), "train", stream="off", image_size=8)
    assert isinstance(lazy.x, ImageFiles) and lazy.shape == full.shape == (3, 8, 8)
    np.testing.assert_array_equal(np.asarray(lazy.x), full.x)
    np.testing.assert_array_equal(lazy.y, full.y)
    assert lazy.names == full.names
    runs = {}
    for stream in ("on", "off"):
        out = tmp_path / f"run-{stream}"
        workers = ["--workers", "2"] if stream == "on" else []  # two loader processes: the same batches
        r = cli("train", "gan", "--data", tmp_path / "imgs", "--image-size", "8", "--conditional", "--arch", "mlp",
                "--stream", stream, *workers, "--epochs", "2", "--batch-size", "8", "--out", out, "--quiet")
        assert r.code == 0, r.err
        runs[stream] = load_file(str(out / "model.safetensors"))
    for k, v in runs["off"].items():
        np.testing.assert_array_equal(runs["on"][k], v, err_msg=k)
