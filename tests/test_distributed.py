"""Data-parallel training through torchrun: two gloo processes on this CPU."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

import aegan
from aegan.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"


def _torchrun(*args, nproc=2, background=False):
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
           "127.0.0.1", "--master_port", str(port), "-m", "aegan", *map(str, args)]
    if background:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _lines(path):
    return path.read_text().strip().splitlines()


def test_two_processes_train_what_one_process_trains(tmp_path):
    args = ["train", "ae", "--data", "digits", "--epochs", "2", "--batch-size", "64", "--quiet"]
    r = _torchrun(*args, "--out", tmp_path / "ddp")
    assert r.returncode == 0, r.stderr
    assert "data-parallel over 2 processes" in r.stdout and "identical on every process" in r.stdout
    assert r.stdout.count("run folder:") == 1  # rank 0 speaks for both
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    a, b = load_file(tmp_path / "ddp" / "model.safetensors"), load_file(tmp_path / "one" / "model.safetensors")
    # the global batch of 64 split 32 + 32, gradients averaged: the same steps as one process
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5
    assert len(_lines(tmp_path / "ddp" / "metrics.jsonl")) == 2
    run = aegan.load(tmp_path / "ddp")
    assert run.encode(aegan.load_dataset("digits", "test")).shape == (359, 32)


def test_conv_batch_norm_and_a_gan_under_two_processes(tmp_path):
    r = _torchrun("train", "ae", "--arch", "conv", "--data", "digits", "--epochs", "1", "--quiet",
                  "--out", tmp_path / "conv")
    assert r.returncode == 0 and "identical on every process" in r.stdout, r.stderr
    r = _torchrun("train", "gan", "--data", "ring", "--epochs", "1", "--max-samples", "3000", "--pack", "2",
                  "--batch-size", "64", "--quiet", "--out", tmp_path / "gan")
    assert r.returncode == 0 and "identical on every process" in r.stdout, r.stderr
    assert aegan.load(tmp_path / "gan").sample(10).shape == (10, 2)


def test_sigterm_and_resume_under_two_processes_end_where_one_run_ends(tmp_path):
    args = ["train", "vae", "--data", "digits", "--epochs", "5", "--batch-size", "32", "--quiet"]
    assert _torchrun(*args, "--out", tmp_path / "whole").returncode == 0
    proc = _torchrun(*args, "--out", tmp_path / "cut", background=True)
    ckpts = tmp_path / "cut" / "checkpoints"
    deadline = time.time() + 120
    while not (ckpts.is_dir() and any(p.name.startswith("step-") for p in ckpts.iterdir())):
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # torchrun passes it to both workers
    _, err = proc.communicate(timeout=120)
    assert "a checkpoint was saved; continue with: aegan train --resume" in err
    assert len(_lines(tmp_path / "cut" / "metrics.jsonl")) < 5
    r = _torchrun("train", "--resume", tmp_path / "cut", "--quiet")
    assert r.returncode == 0, r.stderr
    whole, cut = (tmp_path / d / "model.safetensors" for d in ("whole", "cut"))
    assert whole.read_bytes() == cut.read_bytes()
    epochs = [int(line.split('"epoch": ')[1].split(",")[0]) for line in _lines(tmp_path / "cut" / "metrics.jsonl")]
    assert epochs == [1, 2, 3, 4, 5]
    assert np.isfinite(aegan.load(tmp_path / "cut").elbo(aegan.load_dataset("digits", "test"))).all()
