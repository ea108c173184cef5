import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from aegan.cli import main
from aegan.data import idx_search_path

FASHION = next((p for p in idx_search_path("fashion-mnist") if (p / "train-images-idx3-ubyte.gz").is_file()), None)
needs_fashion = pytest.mark.skipif(
    FASHION is None, reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist, run as root by make test)")


def pytest_configure(config):
    """Under pytest-xdist (make test), the cores shared among the workers rather than each worker
    taking them all, in the worker and in the processes its tests start (aegan tune, kill -9 and
    resume, torchrun...): a child left at torch's default takes every core, and OpenMP threads
    spinning on cores another worker holds made such tests about 4 times slower."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        share = max(1, (os.cpu_count() or 1) // workers)
        torch.set_num_threads(share)
        os.environ["OMP_NUM_THREADS"] = str(share)


def write_idx(path: Path, arr: np.ndarray, compress: bool = False) -> Path:
    code = {np.dtype("uint8"): 0x08, np.dtype("int32"): 0x0C, np.dtype("float32"): 0x0D}[arr.dtype]
    raw = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    if compress:
        raw = gzip.compress(raw)
        path = path.with_name(path.name + ".gz")
    path.write_bytes(raw)
    return path


def make_idx_folder(folder: Path, n_train=40, n_test=10, size=12, compress=True, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, size, size), dtype=np.uint8), compress)
        write_idx(folder / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8), compress)
    return folder


class CLIResult:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys):
    """Run `aegan ARGS...` in-process; returns exit code, stdout, stderr."""
    def run(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse
            code = e.code
        cap = capsys.readouterr()
        return CLIResult(code, cap.out, cap.err)
    return run


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """A small trained conv autoencoder run folder on digits, shared by the CLI tests."""
    out = tmp_path_factory.mktemp("runs") / "digits-ae"
    assert main(["train", "ae", "--data", "digits", "--arch", "conv", "--code-dim", "8", "--epochs", "2",
                 "--out", str(out), "--quiet"]) == 0
    return out
