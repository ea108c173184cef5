"""Checkpoints, resume after SIGKILL / SIGTERM, atomic checkpoint writes, divergence handling,
and refusing state files that carry pickled code."""

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from aegan import checkpoint
from aegan.config import TrainConfig
from aegan.errors import RunError
from aegan.train import Control, DivergedError
from aegan.train import train_on_loss as train_autoencoder

RUNS = {  # (training arguments, checkpoint count at which to stop it)
    "vae": (["vae", "--data", "digits", "--hidden", "64", "--code-dim", "4", "--epochs", "6"], 4),
    "gan": (["gan", "--data", "ring", "--max-samples", "4000", "--hidden", "64,64", "--epochs", "3"], 4),
}


def _aegan(*args) -> list[str]:
    return [sys.executable, "-m", "aegan", *map(str, args)]


def _train(kind: str, out: Path, every: int = 5) -> subprocess.Popen:
    args, _ = RUNS[kind]
    return subprocess.Popen(_aegan("train", *args, "--checkpoint-steps", every, "--out", out, "--quiet"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _newest_step(out: Path) -> int:
    found = checkpoint.checkpoints(out)
    return int(found[-1].name.split("-")[1]) if found else 0


def _stop_after(proc: subprocess.Popen, out: Path, step: int, sig: int) -> None:
    """Send `sig` once the run has written a checkpoint at `step` batches or later."""
    deadline = time.time() + 120
    while _newest_step(out) < max(1, step) and proc.poll() is None:
        assert time.time() < deadline, "the run wrote no checkpoints"
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait(60)


@pytest.mark.parametrize("kind,sig,every", [("vae", signal.SIGKILL, 5), ("gan", signal.SIGKILL, 5),
                                            ("gan", signal.SIGTERM, 5), ("gan", signal.SIGKILL, 0)])
def test_stopped_and_resumed_run_ends_with_the_same_weights(tmp_path, kind, sig, every):
    """Mid-epoch checkpoints (every 5 batches) and epoch-end ones (every=0)."""
    ref = tmp_path / "ref"
    assert _train(kind, ref).wait(300) == 0
    out = tmp_path / "stopped"
    proc = _train(kind, out, every)
    _stop_after(proc, out, every * RUNS[kind][1], sig)
    assert proc.returncode == (-9 if sig == signal.SIGKILL else 143), (proc.returncode, proc.stderr.read())
    if sig == signal.SIGTERM:  # one line saying it saved and how to go on
        err = proc.stderr.read().strip().splitlines()
        assert len(err) == 1 and "aegan train --resume" in err[0] and "SIGTERM" in err[0], err
    assert _newest_step(out) < _newest_step(ref)  # it really stopped part way
    r = subprocess.run(_aegan("train", "--resume", out, "--quiet"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (ref / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
    # the metrics log holds each epoch once, as the uninterrupted run's does
    epochs = [m["epoch"] for m in checkpoint.read_jsonl(out / "metrics.jsonl")]
    assert epochs == [m["epoch"] for m in checkpoint.read_jsonl(ref / "metrics.jsonl")]
    assert len(checkpoint.checkpoints(out)) == 2  # --keep-checkpoints default


def _tiny(seed=0):
    from aegan.config import ModelConfig
    from aegan.models import build_model
    torch.manual_seed(seed)
    return build_model(ModelConfig(family="ae", arch="mlp", hidden=(16,), code_dim=2), "table", (4,), None)


def test_a_crash_while_writing_a_checkpoint_leaves_the_previous_ones_whole(tmp_path, monkeypatch):
    model = _tiny()
    first = checkpoint.save_checkpoint(tmp_path, 10, model, {"a": torch.ones(2)})
    real_save = torch.save

    def dies_half_way(obj, f):
        f.write(b"half a file")
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError):
        checkpoint.save_checkpoint(tmp_path, 20, model, {"a": torch.zeros(2)})
    monkeypatch.setattr(torch, "save", real_save)
    assert checkpoint.checkpoints(tmp_path) == [first]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [first.name]  # no temporary left
    assert torch.equal(checkpoint.load_checkpoint(first, _tiny(1))["a"], torch.ones(2))
    for step in (30, 40, 50):
        checkpoint.save_checkpoint(tmp_path, step, model, {}, keep=2)
    assert [p.name for p in checkpoint.checkpoints(tmp_path)] == ["step-000000040", "step-000000050"]


def test_a_state_file_with_a_pickle_payload_is_refused_and_never_runs(tmp_path, cli):
    out = tmp_path / "run"
    assert cli("train", "ae", "--data", "digits", "--epochs", "1", "--hidden", "16", "--out", out, "--quiet").code == 0
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    ckpt = checkpoint.checkpoints(out)[-1]
    with open(ckpt / "state.pt", "wb") as f:
        pickle.dump({"loop": Payload()}, f)
    r = cli("train", "--resume", out)
    assert r.code == 1 and "refused or unreadable" in r.err and "Traceback" not in r.err, r.err
    assert not marker.exists()
    with pytest.raises(RunError, match="never pickled code"):
        checkpoint.load_state(ckpt / "state.pt")
    assert not marker.exists()


def test_resume_errors_are_one_line(cli, tmp_path):
    r = cli("train", "--resume", tmp_path / "nothing")
    assert r.code == 1 and "no run folder" in r.err, r.err
    out = tmp_path / "run"
    assert cli("train", "ae", "--data", "digits", "--epochs", "1", "--hidden", "16", "--checkpoint-every", "0",
               "--out", out, "--quiet").code == 0
    for p in checkpoint.checkpoints(out):  # a run from before checkpoints, or stopped before its first
        for f in p.iterdir():
            f.unlink()
        p.rmdir()
    r = cli("train", "--resume", out)
    assert r.code == 1 and "no checkpoint to resume from" in r.err, r.err
    r = cli("train")
    assert r.code == 2 and "--resume" in r.err, r.err


class _NaNOnce(torch.nn.Module):
    """An autoencoder whose loss is NaN on the chosen calls."""

    def __init__(self, bad_calls):
        super().__init__()
        self.inner, self.calls, self.bad = _tiny(), 0, set(bad_calls)

    def loss(self, x):
        self.calls += 1
        out = self.inner.loss(x)
        if self.calls in self.bad:
            out["loss"] = out["loss"] * float("nan")
        return out


def test_nan_stops_before_the_weights_change_and_names_the_step():
    model = _NaNOnce({7})
    x = torch.randn(64, 4)
    before = None

    def on_epoch(record):
        nonlocal before
        before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DivergedError, match=r"epoch 2, batch 3 .*--grad-clip.*--on-nan recover"):
        train_autoencoder(model, x, None, TrainConfig(epochs=3, batch_size=16), on_epoch=on_epoch, progress=False)
    # 4 batches per epoch: the 7th loss is epoch 2's third batch; two good steps since the epoch end
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    assert before is not None


def test_nan_recover_reloads_the_last_good_state_and_halves_the_learning_rate():
    model, events = _NaNOnce({7}), []
    x = torch.randn(64, 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    hist = train_autoencoder(model, x, None, TrainConfig(epochs=3, batch_size=16, lr=1e-2), opt=opt, progress=False,
                             control=Control(on_nan="recover", log=events.append))
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert len(events) == 1 and events[0]["lr_scale"] == 0.5 and "epoch 2" in events[0]["at"]
    assert opt.param_groups[0]["lr"] == pytest.approx(5e-3)
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())


def test_grad_clip_bounds_the_gradient_norm():
    from aegan.optim import clip_and_check
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.tensor([30.0, 40.0, 0.0])
    clip_and_check([p], 1.0)
    assert float(p.grad.norm()) == pytest.approx(1.0, rel=1e-5)
    p.grad = torch.tensor([float("inf"), 0.0, 0.0])
    from aegan.optim import NonFinite
    with pytest.raises(NonFinite):
        clip_and_check([p], 1.0)


def test_fault_flags_through_the_cli_and_resuming_a_classifier(cli, tmp_path):
    out = tmp_path / "clf"
    r = cli("train", "classifier", "--data", "digits", "--epochs", "2", "--grad-clip", "1.0", "--on-nan", "recover",
            "--checkpoint-steps", "4", "--keep-checkpoints", "3", "--out", out, "--quiet")
    assert r.code == 0, r.err
    cfg = __import__("json").loads((out / "config.json").read_text())["train"]
    assert (cfg["grad_clip"], cfg["on_nan"], cfg["keep_checkpoints"]) == (1.0, "recover", 3)
    assert len(checkpoint.checkpoints(out)) == 3
    before = (out / "model.safetensors").read_bytes()
    r = cli("train", "--resume", out, "--quiet")  # already finished: nothing left to train, same weights
    assert r.code == 0 and "already finished its 2 epochs" in r.out, r.err
    assert (out / "model.safetensors").read_bytes() == before
    r = cli("train", "ae", "--data", "digits", "--grad-clip", "0", "--out", tmp_path / "x")
    assert r.code == 2 and "--grad-clip 0" in r.err
