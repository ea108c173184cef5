"""The "Speed and scale" section of BENCHMARKS.md (called by benchmarks/run.py).

Training samples per second of aegan's step for four models beside, in the same run on the same
data and the same networks: a textbook loop written here (TensorDataset + DataLoader, shuffle,
the loop of the PyTorch tutorials: zero_grad, loss, backward, step, loss.item()), and for the
classic autoencoder and the MLP VAE pythae's trainer (run in .venv-bench, the bench-only
environment, by benchmarks/pythae_speed.py). Achieved GFLOP/s from the FLOPs of one step
(torch.utils.flop_counter, forward and backward) against the fp32 matrix-multiply peak
measured in the same run. Then a training run on a .npy file of over 2 GB read from disk,
with the peak resident memory of its processes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import aegan
from aegan.config import GANConfig, ModelConfig, RunConfig, TrainConfig, apply_preset
from aegan.data import Dataset, load_dataset
from aegan.runs.registry import fit
from aegan.models import build_model
from aegan.models.gan import build_gan, resolve

ROOT = Path(__file__).resolve().parents[1]
BENCH_PY = ROOT / ".venv-bench" / "bin" / "python"
BATCH = 128

# label -> (task, model config, pythae's name for the same network or None)
MODELS = {
    "classic (article MLP 128)": ("autoencoder", apply_preset("classic", ModelConfig(family="ae"), TrainConfig())[0], "ae"),
    "ae conv 32-64-128": ("autoencoder", ModelConfig(family="ae", arch="conv"), None),
    "vae mlp 512-256": ("autoencoder", ModelConfig(family="vae", arch="mlp"), "vae"),
    "gan dcgan (ns loss)": ("gan", GANConfig(arch="dcgan"), None),
}
TARGETS = {"classic (article MLP 128)": 2.0, "vae mlp 512-256": 2.0, "ae conv 32-64-128": 1.2, "gan dcgan (ns loss)": 1.2}


def matmul_peak(n: int = 2048, reps: int = 9) -> float:
    """Median GFLOP/s of an n x n fp32 matrix product on this machine (all torch threads)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def _median_rate(rates: list[float]) -> float:
    """Median samples/s over the epochs after the first (which pays for warm-up)."""
    return statistics.median(rates[1:] if len(rates) > 2 else rates)


def aegan_rates(task: str, model_cfg, x: np.ndarray, epochs: int, **switches) -> list[float]:
    """Samples/s of each epoch of `aegan train` (the library call the CLI makes), data in memory;
    `switches`: TrainConfig fields such as compile=True or precision="bf16"."""
    ds = Dataset(x, "image", "speed")
    tc = TrainConfig(epochs=epochs, batch_size=BATCH, val_split=0.0, checkpoint_every=0, **switches)
    if task == "gan":
        run = fit(ds, RunConfig(task="gan", model=model_cfg, train=tc), progress=False)
    else:
        run = fit(ds, RunConfig(model=model_cfg, train=tc), progress=False)
    return [len(x) / r["seconds"] for r in run.history]


def _modules(task: str, model_cfg):
    if task == "gan":
        cfg = resolve(model_cfg, "image", (1, 28, 28))
        return build_gan(cfg, "image", (1, 28, 28), (-1.0, 1.0), None, BATCH), cfg
    return build_model(model_cfg, "image", (1, 28, 28), (0.0, 1.0)), None


def plain_rates(task: str, model_cfg, x: np.ndarray, epochs: int) -> list[float]:
    """The textbook loop on the same networks: TensorDataset + DataLoader(shuffle) and the
    tutorial step (pytorch/examples' dcgan step for the GAN)."""
    torch.manual_seed(0)
    net, cfg = _modules(task, model_cfg)
    xt = torch.from_numpy(x).float() / 255
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt if task != "gan" else xt * 2 - 1),
                                         batch_size=BATCH, shuffle=True)
    rates = []
    if task == "gan":
        G, D = net.generator, net.discriminator
        opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        bce = torch.nn.BCEWithLogitsLoss()
    else:
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    for _ in range(epochs):
        t0, total = time.perf_counter(), 0.0
        for (xb,) in loader:
            if task == "gan":
                n = len(xb)
                ones, zeros = torch.ones(n), torch.zeros(n)
                opt_d.zero_grad()
                fake = G(torch.randn(n, cfg.z_dim), None)
                d_loss = bce(D(xb, None).view(-1), ones) + bce(D(fake.detach(), None).view(-1), zeros)
                d_loss.backward()
                opt_d.step()
                opt_g.zero_grad()
                g_loss = bce(D(fake, None).view(-1), ones)
                g_loss.backward()
                opt_g.step()
                total += d_loss.item() + g_loss.item()
            else:
                opt.zero_grad()
                loss = net.loss(xb)["loss"]
                loss.backward()
                opt.step()
                total += loss.item()
        rates.append(len(x) / (time.perf_counter() - t0))
    return rates


def flops_per_sample(task: str, model_cfg) -> float:
    """FLOPs of aegan's training step (forward and backward) per example, at batch size 128."""
    net, cfg = _modules(task, model_cfg)
    xb = torch.rand(BATCH, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        if task == "gan":
            G, D = net.generator, net.discriminator
            fake = G(torch.randn(BATCH, cfg.z_dim), None)
            (D(xb, None).mean() + D(fake.detach(), None).mean()).backward()
            # aegan's G step draws fresh noise: one more G forward than the textbook step
            D(G(torch.randn(BATCH, cfg.z_dim), None), None).mean().backward()
        else:
            net.loss(xb)["loss"].backward()
    return counter.get_total_flops() / BATCH


def pythae_rates(kind: str, x: np.ndarray, epochs: int, workdir: Path) -> tuple[list[float] | None, str]:
    if not BENCH_PY.exists():
        return None, "not measured: .venv-bench is missing (make bench creates it)"
    data = workdir / "speed-data.npy"
    if not data.exists():
        np.save(data, x.astype(np.float32) / 255)
    r = subprocess.run([str(BENCH_PY), str(ROOT / "benchmarks" / "pythae_speed.py"), kind, str(data), str(epochs)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"not measured: pythae failed ({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode})"
    return json.loads(r.stdout.strip().splitlines()[-1]), ""


def _tree_pss(pid: int) -> int:
    """Proportional resident bytes (PSS: a page shared by k processes counts 1/k in each) of a
    process and all its descendants: their memory together, shared pages counted once."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def write_big_npy(path: Path, base: np.ndarray, min_bytes: int) -> int:
    """A uint8 image .npy of at least `min_bytes`, the base images repeated, written in chunks."""
    rows = -(-min_bytes // base[0].nbytes)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False,
                                                 "shape": (rows, *base.shape[1:])})
        done = 0
        while done < rows:
            k = min(len(base), rows - done)
            f.write(base[:k].tobytes())
            done += k
    return rows


class MemoryCap:
    """A memory limit for one child process through a cgroup-v1 memory controller (as root on
    Linux); where there is none, `limit` is None and the child runs uncapped."""

    ROOT = Path("/sys/fs/cgroup/memory")

    def __init__(self, limit: int):
        self.path, self.limit = self.ROOT / f"aegan-bench-{os.getpid()}", None
        try:
            self.path.mkdir()
            (self.path / "memory.limit_in_bytes").write_text(str(limit))
            self.limit = limit
        except OSError:
            self.path = None

    @classmethod
    def none(cls) -> "MemoryCap":
        cap = cls.__new__(cls)
        cap.path, cap.limit = None, None
        return cap

    def enter(self) -> None:  # in the child, before exec: join the group
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def close(self) -> int | None:
        """The group's peak usage (process memory and the page cache it caused), then remove it."""
        if self.path is None:
            return None
        peak = int((self.path / "memory.max_usage_in_bytes").read_text())
        try:
            self.path.rmdir()
        except OSError:
            pass
        return peak


def larger_than_memory(workdir: Path, base: np.ndarray, min_bytes: int, cap_bytes: int | None,
                       extra: tuple[str, ...] = ()) -> dict:
    """Train the classic autoencoder for one epoch on a .npy of at least `min_bytes` read from disk
    (`--stream auto` streams files from 1 GiB on), capped at `cap_bytes` of memory where the
    machine allows it, while sampling the resident memory of the training process and its loader
    workers every 0.1 s."""
    path = workdir / "big.npy"
    rows = write_big_npy(path, base, min_bytes)
    cmd = ["aegan", "train", "ae", "--preset", "classic", "--data", str(path), "--stream", "on", "--split", "all", "--epochs", "1",
           "--batch-size", "512", "--val-split", "0.001", *extra, "--out", str(workdir / "big-run"), "--quiet",
           "--overwrite"]
    cap = MemoryCap(cap_bytes) if cap_bytes else MemoryCap.none()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "aegan", *cmd[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=cap.enter)
    peak = 0

    def watch():
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, _tree_pss(proc.pid))
            time.sleep(0.1)
    t = threading.Thread(target=watch)
    t.start()
    out, err = proc.communicate()
    t.join()
    secs = time.perf_counter() - t0
    cap_peak = cap.close()
    size = path.stat().st_size
    path.unlink()
    metrics = (workdir / "big-run" / "metrics.jsonl")
    last = json.loads(metrics.read_text().splitlines()[-1]) if metrics.exists() else {}
    return {"ok": proc.returncode == 0, "error": err.strip().splitlines()[-1] if proc.returncode and err.strip() else "",
            "rows": rows, "bytes": size, "peak": peak, "cap": cap.limit, "cap_peak": cap_peak, "seconds": secs, "epoch_seconds": last.get("seconds"),
            "train_loss": last.get("train_loss"), "cmd": " ".join(cmd).replace(str(workdir), "TMP")}


def speed_section(quick: bool, workdir: Path) -> list[str]:
    lines = ["## Speed and scale", ""]
    try:
        base = load_dataset("fashion-mnist", "train").x
        source = "the first {n} Fashion-MNIST training images"
    except aegan.AeganError:
        base = np.random.default_rng(0).integers(0, 256, (60000, 1, 28, 28), dtype=np.uint8)
        source = "{n} random 28x28 images (Fashion-MNIST is not installed)"
    epochs = 3 if quick else 5
    sizes = {"autoencoder-mlp": 3000 if quick else 10000, "conv": 1000 if quick else 5000}
    peak = matmul_peak()
    rows = []
    for label, (task, cfg, pythae) in MODELS.items():
        if quick and label not in ("classic (article MLP 128)", "ae conv 32-64-128"):
            continue
        mlp = task == "autoencoder" and cfg.arch == "mlp"
        n = sizes["autoencoder-mlp" if mlp else "conv"]
        x = base[:n]
        flops = flops_per_sample(task, cfg)
        ours = _median_rate(aegan_rates(task, cfg, x, epochs))
        plain = _median_rate(plain_rates(task, cfg, x, epochs))
        if pythae and not quick:
            pr, why = pythae_rates(pythae, x, epochs, workdir)
            theirs = _median_rate(pr) if pr else None
        else:
            theirs, why = None, "not run" + (" in quick mode" if quick and pythae else "")
        rows.append((label, n, ours, plain, theirs, why, flops))
    lines += [f"Training samples per second at batch size {BATCH}, fp32 on this CPU ({torch.get_num_threads()} threads), "
              f"on {source.format(n='N')} (N in the table), median over epochs 2-{epochs} of one run each, all "
              "measured one after another in this run on the same networks. **aegan**: `aegan.fit` "
              "(what `aegan train` calls) with the data in memory, no validation split; **plain**: the textbook loop "
              "(`TensorDataset` + `DataLoader(shuffle=True)`, `zero_grad(); loss.backward(); step(); loss.item()`, "
              "default Adam; for the GAN the pytorch/examples DCGAN step with BCE); **pythae**: pythae 0.1.2's "
              "`BaseTrainer` on the same layers (its `AE`/`VAE` with MSE reconstruction), timed over its training "
              "steps only. GFLOP/s: FLOPs of one forward+backward step (torch's FLOP counter) x aegan's samples/s; "
              f"the fp32 matrix-multiply peak measured here: **{peak:.0f} GFLOP/s** (2048 x 2048, median of 9).", "",
              "| model | N | aegan samples/s | plain loop | aegan / plain | pythae | aegan / pythae | "
              "MFLOP per sample | aegan GFLOP/s | % of matmul peak |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    verdicts = []
    for label, n, ours, plain, theirs, why, flops in rows:
        gf = flops * ours / 1e9
        lines.append(f"| {label} | {n} | {ours:,.0f} | {plain:,.0f} | {ours / plain:.2f}x | "
                     + (f"{theirs:,.0f} | {ours / theirs:.2f}x" if theirs else f"{why} | -")
                     + f" | {flops / 1e6:.2f} | {gf:.1f} | {100 * gf / peak:.0f}% |")
        want = TARGETS[label]
        verdicts.append(f"{label}: {ours / plain:.2f}x the plain loop (target {want}x: "
                        f"{'met' if ours / plain >= want else 'NOT met'})"
                        + (f", {ours / theirs:.2f}x pythae (target 2x: {'met' if ours / theirs >= 2 else 'NOT met'})"
                           if theirs else "")
                        + (f", {100 * gf / peak:.0f}% of the matmul peak (target 30%: "
                           f"{'met' if gf / peak >= 0.3 else 'NOT met'})" if label.startswith("classic") else ""))
    lines += ["", "Targets (issue 7):", ""] + [f"- {v}" for v in verdicts]
    lines += ["", "What the aegan step does that the plain loop does not: one `index_select` per batch from one "
                  "tensor (no per-example `__getitem__` and collate), fused Adam, `zero_grad(set_to_none=True)`, "
                  "no `.item()` per step (epoch sums stay tensors), convolutional networks in channels_last "
                  "memory format, and denormal floats flushed to zero while training on a CPU. The GAN rows do not "
                  "do the same work: aegan's generator step draws fresh noise (one more generator forward pass per "
                  "batch than the textbook step, which reuses the discriminator step's fakes) and updates the EMA "
                  "generator (`--ema 0.999`, the dcgan default); its GFLOP/s count that extra forward pass."]
    if quick:
        lines += ["", "Switches (`--compile`, `--precision bf16`): not run in quick mode."]
    else:
        lines += ["", "The switches on this CPU, aegan samples/s (same data and epochs; `--compile`'s first epoch, "
                      "which compiles, is left out like every first epoch):", "",
                  "| model | default (fp32) | `--compile` | `--precision bf16` |", "|---|---:|---:|---:|"]
        for label, (task, cfg, _) in MODELS.items():
            if label.startswith("gan"):
                continue
            n = next(r[1] for r in rows if r[0] == label)
            default = next(r[2] for r in rows if r[0] == label)
            comp = _median_rate(aegan_rates(task, cfg, base[:n], epochs, compile=True))
            bf16 = _median_rate(aegan_rates(task, cfg, base[:n], epochs, precision="bf16"))
            lines.append(f"| {label} | {default:,.0f} | {comp:,.0f} ({comp / default:.2f}x) | "
                         f"{bf16:,.0f} ({bf16 / default:.2f}x) |")
    if quick:
        lines += ["", "Larger than memory: not run in quick mode."]
        return lines + [""]
    gb = 1e9
    cap = 700_000_000
    big = larger_than_memory(workdir, base, 2_200_000_000, cap)
    lines += ["", "### Training on a file larger than memory", ""]
    if big["ok"]:
        rate = big["rows"] * 0.999 / big["epoch_seconds"] if big["epoch_seconds"] else 0
        capped = (f"with its memory capped at **{big['cap'] / gb:.1f} GB** ({big['bytes'] / big['cap']:.1f}x less "
                  f"than the file; a cgroup memory limit, peak charged {big['cap_peak'] / gb:.2f} GB)"
                  if big["cap"] else "(no memory cap: this machine gives no cgroup memory controller)")
        lines += [f"A {big['bytes'] / gb:.2f} GB uint8 `.npy` ({big['rows']:,} images: Fashion-MNIST repeated), one "
                  f"epoch read from disk batch by batch (`--stream on`; the default `auto` does the same for files "
                  f"of 1 GiB and more), {capped}: `{big['cmd']}`.", "",
                  f"- peak memory of the training process (PSS, sampled every 0.1 s): **{big['peak'] / gb:.2f} GB**, "
                  f"{big['peak'] / big['bytes']:.2f}x the file size; loading the file would take "
                  f"{4 * big['bytes'] / gb:.1f} GB as float32 before the training copy",
                  f"- epoch: {big['epoch_seconds']:.0f} s ({rate:,.0f} samples/s at batch size 512), whole command "
                  f"{big['seconds']:.0f} s; train loss {big['train_loss']:.4f}"]
    else:
        lines += [f"FAILED: {big['error']} (`{big['cmd']}`)"]
    lines += ["", "Loader processes (`--workers`) on a 0.6 GB file, one epoch each, no cap: peak memory of the "
                  "process and its workers together (PSS: pages they share counted once) and epoch time.", "",
              "| --workers | peak memory (GB) | epoch (s) |", "|---:|---:|---:|"]
    for w in (0, 1, 2):
        r = larger_than_memory(workdir, base, 600_000_000, None, ("--workers", str(w)))
        lines.append(f"| {w} | {r['peak'] / gb:.2f} | {r['epoch_seconds']:.1f} |" if r["ok"] else
                     f"| {w} | FAILED: {r['error']} | |")
    lines += ["", "On this 2-core CPU the readers compete with training for the same cores, so aegan reads in "
                  "the training process when it trains on a CPU (`--workers` default: 0 there, 4 beside a GPU)."]
    return lines + [""]
