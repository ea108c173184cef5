import gzip

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from aegan.data import Normalizer, load_dataset
from aegan.data.idx import read_idx
from aegan.errors import DataError, UsageError

from conftest import make_idx_folder, needs_fashion, write_idx


@pytest.mark.parametrize("compress", [False, True])
def test_idx_plain_and_gzip(tmp_path, compress):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / "a-idx3-ubyte", arr, compress)
    np.testing.assert_array_equal(read_idx(path), arr)
    f32 = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "f", f32, compress)), f32)


def test_idx_folder_splits(tmp_path):
    folder = make_idx_folder(tmp_path / "mine", n_train=30, n_test=7, size=10)
    train, test = load_dataset(str(folder), "train"), load_dataset(str(folder), "test")
    assert (len(train), len(test)) == (30, 7)
    assert train.shape == (1, 10, 10) and train.x.dtype == np.uint8 and train.y.dtype == np.int64
    assert len(load_dataset(str(folder), "all")) == 37


def test_named_idx_dataset_via_data_dir_and_env(tmp_path, monkeypatch):
    make_idx_folder(tmp_path / "fm", n_train=5, n_test=3, size=6)
    ds = load_dataset("fashion-mnist", "test", data_dir=str(tmp_path / "fm"))
    assert len(ds) == 3 and ds.classes[0] == "T-shirt/top"
    monkeypatch.setenv("AEGAN_DATA", str(tmp_path))
    make_idx_folder(tmp_path / "mnist", n_train=4, n_test=2, size=6)
    assert len(load_dataset("mnist", "train")) == 4


def test_broken_idx_files(tmp_path):
    good = write_idx(tmp_path / "g", np.zeros((4, 5, 5), np.uint8))
    (tmp_path / "trunc").write_bytes(good.read_bytes()[:-7])
    (tmp_path / "magic").write_bytes(b"\x08\x03\x00\x00" + good.read_bytes()[4:])
    (tmp_path / "gz").write_bytes(gzip.compress(good.read_bytes())[:-10])
    for name, words in (("trunc", "truncated"), ("magic", "magic"), ("gz", "gzip")):
        with pytest.raises(DataError, match=words):
            read_idx(tmp_path / name)


def test_idx_label_count_mismatch(tmp_path):
    folder = make_idx_folder(tmp_path / "m", n_train=6, n_test=2, size=5)
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(5, np.uint8), compress=True)
    with pytest.raises(DataError, match="5 labels for 6 images"):
        load_dataset(str(folder), "train")


def test_missing_named_dataset_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("AEGAN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"looked in .*nowhere.*apt-get install dataset-fashion-mnist"):
        load_dataset("mnist", data_dir=str(tmp_path / "empty"))
    with pytest.raises(DataError, match="no dataset named 'nosuch'"):
        load_dataset("nosuch")


def test_npy_ranks_and_dtypes(tmp_path):
    np.save(tmp_path / "img3.npy", np.zeros((10, 6, 7), np.uint8))
    np.save(tmp_path / "img4.npy", np.zeros((10, 3, 6, 7), np.float32))
    np.save(tmp_path / "nhwc.npy", np.zeros((10, 6, 7, 3), np.uint8))
    np.save(tmp_path / "tab.npy", np.zeros((10, 5), np.float64))
    assert load_dataset(str(tmp_path / "img3.npy"), "all").shape == (1, 6, 7)
    assert load_dataset(str(tmp_path / "img4.npy"), "all").shape == (3, 6, 7)
    assert load_dataset(str(tmp_path / "nhwc.npy"), "all").shape == (3, 6, 7)
    tab = load_dataset(str(tmp_path / "tab.npy"), "all")
    assert tab.kind == "table" and tab.shape == (5,)
    np.save(tmp_path / "r1.npy", np.zeros(5))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(DataError, match="rank 1"):
        load_dataset(str(tmp_path / "r1.npy"))
    with pytest.raises(DataError, match="object arrays"):
        load_dataset(str(tmp_path / "obj.npy"))
    with pytest.raises(DataError, match="NaN or inf"):
        load_dataset(str(tmp_path / "nan.npy"), "all")


def test_npy_is_memory_mapped_and_split_is_fixed(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(100 * 4, dtype=np.float32).reshape(100, 4))
    ds = load_dataset(str(tmp_path / "a.npy"), "all")
    assert isinstance(ds.x, np.memmap) or isinstance(getattr(ds.x, "base", None), np.memmap)
    tr, te = load_dataset(str(tmp_path / "a.npy"), "train"), load_dataset(str(tmp_path / "a.npy"), "test")
    assert (len(tr), len(te)) == (80, 20)
    assert not set(tr.x[:, 0]) & set(te.x[:, 0])
    np.testing.assert_array_equal(te.x, load_dataset(str(tmp_path / "a.npy"), "test").x)


def test_npz_layouts(tmp_path):
    np.savez(tmp_path / "xy.npz", x=np.zeros((20, 8, 8), np.uint8), y=np.arange(20) % 3)
    ds = load_dataset(str(tmp_path / "xy.npz"), "all")
    assert ds.shape == (1, 8, 8) and ds.y.tolist()[:4] == [0, 1, 2, 0]
    np.savez(tmp_path / "k.npz", x_train=np.zeros((7, 3)), y_train=np.ones(7, int), x_test=np.ones((2, 3)),
             y_test=np.zeros(2, int))
    assert len(load_dataset(str(tmp_path / "k.npz"), "train")) == 7
    assert load_dataset(str(tmp_path / "k.npz"), "test").x.sum() == 6
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset(str(tmp_path / "bad.npz"))


def test_csv_header_detection_and_labels(tmp_path):
    (tmp_path / "h.csv").write_text("a,b,label\n1,2,cat\n3,4.5,dog\n5,6,cat\n")
    ds = load_dataset(str(tmp_path / "h.csv"), "all", label_column="label")
    assert ds.kind == "table" and ds.shape == (2,) and ds.classes == ["cat", "dog"]
    assert ds.y.tolist() == [0, 1, 0] and ds.x[1, 1] == pytest.approx(4.5)
    (tmp_path / "n.csv").write_text("1,2,0\n3,4,1\n")
    ds = load_dataset(str(tmp_path / "n.csv"), "all", label_column="-1")
    assert ds.shape == (2,) and ds.y.tolist() == [0, 1]
    assert load_dataset(str(tmp_path / "n.csv"), "all").shape == (3,)


@pytest.mark.parametrize("body, words", [
    ("a,b\n1,x\n", r"line 2, column 'b' holds 'x'"),
    ("a,b\n1,\n", "an empty cell"),
    ("a,b\n1,nan\n", "finite number"),
    ("a,b\n1,inf\n", "finite number"),
    ("a,b\n1,2,3\n", "3 cells, expected 2"),
    ("a,b\n", "no data rows"),
    ("", "no rows"),
])
def test_csv_bad_cells(tmp_path, body, words):
    (tmp_path / "t.csv").write_text(body)
    with pytest.raises(DataError, match=words):
        load_dataset(str(tmp_path / "t.csv"), "all")


def test_csv_unknown_label_column(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="--label-column 'c'"):
        load_dataset(str(tmp_path / "t.csv"), "all", label_column="c")


def _img(path, mode, size, value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode in ("L", "P") else (value,) * len(mode)).save(path)


def test_image_folder_classes_grey_rgb_resize(tmp_path):
    for c in ("cats", "dogs"):
        for i in range(3):
            _img(tmp_path / "g" / c / f"{i}.png", "L", (10, 10))
    ds = load_dataset(str(tmp_path / "g"), "all")
    assert ds.shape == (1, 10, 10) and ds.classes == ["cats", "dogs"] and ds.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.names[0] == "cats/0.png"
    _img(tmp_path / "mixed" / "a.png", "L", (12, 12))
    _img(tmp_path / "mixed" / "b.png", "RGBA", (12, 12))
    _img(tmp_path / "mixed" / "c.png", "P", (16, 16))
    Image.new("RGB", (20, 14), (200, 10, 10)).save(tmp_path / "mixed" / "d.jpg")
    with pytest.raises(DataError, match="different sizes.*--image-size"):
        load_dataset(str(tmp_path / "mixed"), "all")
    ds = load_dataset(str(tmp_path / "mixed"), "all", image_size=8)
    assert ds.shape == (3, 8, 8) and ds.y is None and ds.x.dtype == np.uint8
    assert load_dataset(str(tmp_path / "mixed"), "all", image_size=8, channels=1).shape == (1, 8, 8)


def test_image_folder_train_test_subfolders(tmp_path):
    for split, n in (("train", 4), ("test", 2)):
        for i in range(n):
            _img(tmp_path / "d" / split / "x" / f"{i}.png", "RGB", (6, 6))
    assert len(load_dataset(str(tmp_path / "d"), "train")) == 4
    assert len(load_dataset(str(tmp_path / "d"), "test")) == 2


def test_image_folder_bad_files(tmp_path):
    _img(tmp_path / "f" / "a.png", "L", (5, 5))
    (tmp_path / "f" / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match="empty.png: not a readable image \\(empty file\\)"):
        load_dataset(str(tmp_path / "f"), "all")
    (tmp_path / "f" / "empty.png").write_text("hello, not a picture")
    with pytest.raises(DataError, match="empty.png: not a readable image"):
        load_dataset(str(tmp_path / "f"), "all")
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no image files"):
        load_dataset(str(tmp_path / "none"))


def test_digits_is_bundled_and_split():
    tr, te = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert tr.shape == (1, 8, 8) and len(tr) + len(te) == 1797
    assert 0.0 <= tr.x.min() and tr.x.max() <= 1.0


@needs_fashion
def test_fashion_mnist_real_files():
    tr, te = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    assert (len(tr), len(te)) == (60000, 10000)
    assert tr.shape == (1, 28, 28) and tr.x.dtype == np.uint8
    assert np.bincount(te.y).tolist() == [1000] * 10


def test_bad_split():
    with pytest.raises(UsageError, match="--split 'val'"):
        load_dataset("digits", "val")


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(2, 6), st.integers(1, 4)),
                  elements=st.floats(-1e3, 1e3, width=32)))
def test_standardisation_round_trip(x):
    n = Normalizer.fit(x, "table")
    np.testing.assert_allclose(n.inverse(n.transform(x)), x, rtol=1e-4, atol=1e-2)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 4), st.just(1), st.integers(1, 5), st.integers(1, 5))),
       st.sampled_from(["unit", "symmetric"]))
def test_pixel_round_trip_gives_unit_pixels(x, target):
    n = Normalizer.fit(x, "image", target)
    t = n.transform(x)
    lo, hi = n.model_range
    assert float(t.min()) >= lo - 1e-6 and float(t.max()) <= hi + 1e-6
    np.testing.assert_allclose(n.inverse(t), x / 255.0, atol=1e-6)


def test_float_images_keep_their_range():
    x = np.linspace(-5, 5, 2 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
    n = Normalizer.fit(x, "image")
    np.testing.assert_allclose(n.inverse(n.transform(x)), x, atol=1e-5)
