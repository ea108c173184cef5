"""Regenerate BENCHMARKS.md: `make bench` (full) or `make bench-quick` (smoke check, minutes).

Every figure here is produced by this script; the table shows the command behind each row.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

import aegan  # noqa: E402
from aegan.data import load_dataset  # noqa: E402

# (label, aegan train arguments); code size and epochs are added per row
RECON_MODELS = [
    ("classic (article MLP 128)", ["ae", "--preset", "classic"]),
    ("ae mlp 512-256", ["ae", "--arch", "mlp"]),
    ("dae mlp (gaussian 0.2)", ["dae", "--arch", "mlp"]),
    ("sparse mlp (L1 1e-3)", ["sparse", "--arch", "mlp"]),
    ("vae mlp (gaussian)", ["vae", "--arch", "mlp"]),
    ("ae conv 32-64-128", ["ae", "--arch", "conv"]),
    ("dae conv (gaussian 0.2)", ["dae", "--arch", "conv"]),
    ("vae conv (gaussian)", ["vae", "--arch", "conv"]),
]
QUICK_MODELS = {"classic (article MLP 128)", "ae conv 32-64-128", "vae mlp (gaussian)"}


def pca_mse(xtr: np.ndarray, xte: np.ndarray, k: int) -> tuple[float, float]:
    from sklearn.decomposition import PCA
    t0 = time.perf_counter()
    p = PCA(k, random_state=0).fit(xtr)
    mse = float(((p.inverse_transform(p.transform(xte)) - xte) ** 2).mean())
    return mse, time.perf_counter() - t0


def reconstruction_section(quick: bool, workdir: Path) -> list[str]:
    data = "fashion-mnist"
    try:
        test = load_dataset(data, "test")
        train = load_dataset(data, "train")
    except aegan.AeganError as e:
        return ["## Reconstruction on Fashion-MNIST", "", f"Skipped: {e}", ""]
    epochs = 2 if quick else 10
    codes = (2, 8, 32)
    extra = ["--max-samples", "6000"] if quick else []
    xte = test.x.reshape(len(test), -1).astype(np.float32) / 255.0
    xtr = train.x.reshape(len(train), -1).astype(np.float32) / 255.0
    if quick:
        xtr = xtr[:6000]
    rows, pca = [], {}
    for k in codes:
        mse, secs = pca_mse(xtr, xte, k)
        pca[k] = mse
        rows.append(("PCA", k, "-", mse, 1.0, secs, f"sklearn PCA({k}) on the training pixels"))
    for i, (label, args) in enumerate(RECON_MODELS):
        if quick and label not in QUICK_MODELS:
            continue
        for k in codes:
            out = workdir / f"model{i}-code{k}"
            cmd = ["aegan", "train", *args, "--data", data, "--code-dim", str(k), "--epochs", str(epochs),
                   *extra, "--out", str(out), "--quiet", "--overwrite"]
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "aegan", *cmd[1:]], check=True, stdout=subprocess.DEVNULL)
            secs = time.perf_counter() - t0
            run = aegan.load(out)
            mse = float(((run.reconstruct(test).reshape(len(test), -1) - xte) ** 2).mean())
            shown = " ".join(shlex.quote(c) for c in cmd if c not in ("--quiet", "--overwrite"))
            shown = shown.replace(str(out), "RUN")
            rows.append((label, k, epochs, mse, mse / pca[k], secs, f"`{shown}`"))
            print(f"{label:28s} code {k:2d}: test MSE {mse:.5f} ({mse / pca[k]:.2f} x PCA) in {secs:.0f}s",
                  flush=True)
    lines = ["## Reconstruction on Fashion-MNIST",
             "",
             "Test-set mean squared error per pixel (pixels in [0, 1], all 10,000 test images), beside PCA "
             "with as many components as the code has dimensions. Models train with their default settings "
             "(Adam, batch 128, lr 1e-3, 10% of the training set held out for validation, seed 0). "
             "Wall time is the whole `aegan train` command on this machine.",
             "",
             "| model | code | epochs | test MSE | / PCA | train wall time | command |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for label, k, ep, mse, ratio, secs, cmd in sorted(rows, key=lambda r: (r[1], r[0] != "PCA")):
        lines.append(f"| {label} | {k} | {ep} | {mse:.5f} | {ratio:.2f} | {secs:.1f} s | {cmd} |")
    conv32 = next((r for r in rows if r[0].startswith("ae conv") and r[1] == 32), None)
    if conv32:
        verdict = "met" if conv32[4] <= 0.5 else "NOT met"
        lines += ["", f"Target (conv autoencoder, code 32, {conv32[2]} epochs, at most half of PCA-32's test MSE): "
                      f"{conv32[3]:.5f} vs PCA-32 {pca[32]:.5f}, ratio {conv32[4]:.2f}: **{verdict}**"
                      + (" (quick mode: fewer epochs and examples, not the target setting)" if quick else "")]
    return lines + [""]


SECTIONS = [reconstruction_section]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smoke check: few epochs, a subset of rows")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    started = time.perf_counter()
    body = []
    with tempfile.TemporaryDirectory(prefix="aegan-bench-") as tmp:
        for section in SECTIONS:
            body += section(args.quick, Path(tmp))
    total = time.perf_counter() - started
    head = ["# Benchmarks", "",
            f"Written by `{'make bench-quick' if args.quick else 'make bench'}` "
            f"(`python benchmarks/run.py{' --quick' if args.quick else ''}`) on "
            f"{datetime.date.today().isoformat()}; do not edit by hand.",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), Python {platform.python_version()}, aegan {aegan.__version__}. "
            f"Whole run: {total / 60:.1f} minutes.", ""]
    Path(args.out).write_text("\n".join(head + body))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
