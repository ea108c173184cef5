"""Regenerate BENCHMARKS.md: `make bench` (full) or `make bench-quick` (smoke check, minutes).

Every figure here is produced by this script; the table shows the command behind each row.
"""

from __future__ import annotations

import argparse
import datetime
import json
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


TOY_CONFIGS = [  # (label, aegan train gan arguments); the first row is the defaults
    ("defaults (ns, 10 epochs)", []),
    ("ns", ["--loss", "ns"]),
    ("minimax", ["--loss", "minimax"]),
    ("wgan", ["--loss", "wgan"]),
    ("wgan-gp", ["--loss", "wgan-gp"]),
    ("hinge", ["--loss", "hinge"]),
    ("lsgan", ["--loss", "lsgan"]),
    ("ns + PacGAN2", ["--loss", "ns", "--pack", "2"]),
]
PACGAN_PAPER = {"ring": "7.9 modes, 95.6% (PacGAN2)", "grid": "24.8 modes, 93.6% (PacGAN4)"}


def toy_section(quick: bool, workdir: Path) -> list[str]:
    from aegan.gan_run import MODE_SAMPLES
    seeds = (0, 1) if quick else (0, 1, 2, 3, 4)
    short = 1 if quick else 2  # epochs of the loss-comparison rows
    configs = TOY_CONFIGS[1:3] if quick else TOY_CONFIGS
    lines = ["## GANs on the 2-D mixtures (mode collapse)", "",
             f"PacGAN protocol: {MODE_SAMPLES} samples from the trained generator; a sample is high quality within "
             "3 standard deviations of its nearest mode; a mode is captured when a high-quality sample has it as "
             f"nearest mode; reverse KL of the mode histogram from uniform. Mean and spread (min-max) over seeds "
             f"{', '.join(map(str, seeds))} on the 100,000-point training set. The first row of each data set is "
             "`aegan train gan --data NAME` with nothing else (ns loss, MLP 256x3, z 2, batch 64, 10 epochs, "
             "EMA 0.999, linear learning-rate decay); the other rows compare losses and packing at the same "
             f"defaults but {short} epoch(s), to keep the table within this CPU's time. Wall time is per run.", "",
             "| data | setting | modes captured | high quality % | reverse KL | wall time | PacGAN paper's best | "
             "command |",
             "|---|---|---:|---:|---:|---:|---|---|"]
    verdicts = []
    for data in ("ring", "grid"):
        for label, args in configs:
            epochs = [] if not args else ["--epochs", str(short)]
            modes, hq, kl, secs = [], [], [], []
            for seed in seeds:
                out = workdir / f"{data}-{label.replace(' ', '')}-{seed}"
                cmd = ["aegan", "train", "gan", "--data", data, *args, *epochs, "--seed", str(seed),
                       "--out", str(out), "--quiet", "--overwrite"]
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "aegan", *cmd[1:]], check=True, stdout=subprocess.DEVNULL)
                secs.append(time.perf_counter() - t0)
                st = aegan.load(out).mode_stats()
                modes.append(st["modes"])
                hq.append(100 * st["high_quality"])
                kl.append(st["reverse_kl"])
            n_modes = st["num_modes"]
            if not args:
                verdicts.append(f"{data}: {min(modes)}/{n_modes} modes and {min(hq):.1f}% high quality on the "
                                "worst seed")
                met = min(modes) == n_modes and min(hq) >= 97.0
                verdicts[-1] += " (met)" if met else " (not met)"
            shown = " ".join(c for c in cmd if c not in ("--quiet", "--overwrite")).replace(str(out), "RUN")
            shown = shown.replace(f"--seed {seeds[-1]}", "--seed S")
            span = lambda v, f: f"{np.mean(v):{f}} ({np.min(v):{f}}-{np.max(v):{f}})"  # noqa: E731
            lines.append(f"| {data} | {label} | {span(modes, '.1f')} / {n_modes} | {span(hq, '.1f')} | "
                         f"{span(kl, '.3f')} | {np.mean(secs):.0f} s | {PACGAN_PAPER[data]} | `{shown}` |")
            print(f"{data} {label}: modes {modes} hq {[round(h, 1) for h in hq]}", flush=True)
    if verdicts:
        lines += ["", "Target (issue 3): every mode on both, at least 97% high quality, on every seed, with the "
                      "defaults: " + "; ".join(verdicts) + "."]
    return lines + [""]


GAN_IMAGE_LOSSES = ("ns", "minimax", "wgan", "wgan-gp", "hinge", "lsgan")


def gan_images_section(quick: bool, workdir: Path, images: Path) -> list[str]:
    """A dcgan per loss on Fashion-MNIST with every other setting at its default: its sample grid
    and `aegan evaluate` (FCD, KID, precision/recall, density/coverage) beside the real-vs-real floor."""
    data = "fashion-mnist"
    n, epochs, n_eval = (2000, 1, 1000) if quick else (20000, 3, 10000)
    losses = GAN_IMAGE_LOSSES[:2] if quick else GAN_IMAGE_LOSSES
    images.mkdir(parents=True, exist_ok=True)
    lines = ["## GAN samples on Fashion-MNIST (dcgan, one row per loss)", "",
             f"`--arch dcgan` on {data}, the first {n:,} training images, {epochs} epoch(s), every other setting at "
             "the loss's default (batch 64, the paper's optimiser, EMA 0.999; wgan and wgan-gp take 5 critic steps "
             "per generator step, so they make a fifth of the generator updates in the same epochs). Grids: 64 "
             f"samples of the EMA generator, seed 0. Metrics: `aegan evaluate RUN --n {n_eval}` in the feature "
             "space of aegan's shipped Fashion-MNIST classifier (FCD is the Frechet distance there, not FID); "
             "the last row is the real-vs-real floor (training images against test images, same N). KID is "
             "x1000. Wall time is the training run on this CPU.", "",
             "| loss | samples | FCD | KID x1000 | precision | recall | density | coverage | wall time | command |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    cols = ("fcd", "kid", "precision", "recall", "density", "coverage")
    floor = None
    for loss in losses:
        out = workdir / f"dcgan-{loss}"
        png = images / f"dcgan-{data}-{loss}.png"
        args = ["train", "gan", "--data", data, "--arch", "dcgan", "--loss", loss, "--max-samples", str(n),
                "--epochs", str(epochs)]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "aegan", *args, "--out", str(out), "--quiet", "--overwrite"],
                       check=True, stdout=subprocess.DEVNULL)
        secs = time.perf_counter() - t0
        subprocess.run([sys.executable, "-m", "aegan", "sample", str(out), "-n", "64", "--seed", "0",
                        "--out", str(png), "--overwrite"], check=True, stdout=subprocess.DEVNULL)
        ev = json.loads(subprocess.run([sys.executable, "-m", "aegan", "evaluate", str(out), "--n", str(n_eval),
                                        "--json"], check=True, capture_output=True, text=True).stdout)
        floor = {k: ev[k]["real_vs_real"] for k in cols}
        shown = [ev[k]["value"] * (1000 if k == "kid" else 1) for k in cols]
        rel = os.path.relpath(png, images.parent.parent)  # from the folder of BENCHMARKS.md
        lines.append(f"| {loss} | ![{loss}]({rel}) | " + " | ".join(f"{v:.3f}" for v in shown) +
                     f" | {secs:.0f} s | `aegan {' '.join(args)} --out RUN; aegan sample RUN -n 64 --out grid.png; "
                     f"aegan evaluate RUN --n {n_eval}` |")
        print(f"dcgan {loss}: {secs:.0f} s, " + ", ".join(f"{k} {v:.3f}" for k, v in zip(cols, shown)), flush=True)
    if floor:
        lines.append("| real vs real | | " + " | ".join(f"{floor[k] * (1000 if k == 'kid' else 1):.3f}"
                                                    for k in cols) + " | | |")
    return lines + [""]


SECTIONS = {"reconstruction": reconstruction_section, "toy": toy_section, "gan-images": gan_images_section}


HEADINGS = {"## Reconstruction on Fashion-MNIST": "reconstruction", "## GANs on the 2-D mixtures": "toy",
            "## GAN samples on Fashion-MNIST": "gan-images"}


def _read_sections(path: Path) -> dict[str, list[str]]:
    """The sections of an existing BENCHMARKS.md (each starts at its "## " heading), so that
    `--sections` regenerates some and keeps the others as this script last wrote them."""
    if not path.is_file():
        return {}
    out, name = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            name = next((n for h, n in HEADINGS.items() if line.startswith(h)), None)
            if name:
                out[name] = []
        if name:
            out[name].append(line)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smoke check: few epochs, a subset of rows")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated subset of {', '.join(SECTIONS)}; the others are kept from --out")
    args = ap.parse_args()
    wanted = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        ap.error(f"--sections {','.join(unknown)}: expected names from {', '.join(SECTIONS)}")
    kept = _read_sections(Path(args.out))
    started = time.perf_counter()
    parts = {}
    with tempfile.TemporaryDirectory(prefix="aegan-bench-") as tmp:
        for name, section in SECTIONS.items():
            if name in wanted:
                t0 = time.perf_counter()
                extra = {"images": Path(args.out).resolve().parent / "benchmarks" / "images"} \
                    if name == "gan-images" else {}
                lines = section(args.quick, Path(tmp), **extra)
                cmd = "python benchmarks/run.py" + (" --quick" if args.quick else "") + f" --sections {name}"
                parts[name] = lines + [f"(this section: `{cmd}` on {datetime.date.today().isoformat()}, "
                                       f"{(time.perf_counter() - t0) / 60:.1f} minutes)", ""]
            elif name in kept:
                parts[name] = kept[name]
    body = [line for name in SECTIONS if name in parts for line in parts[name]]
    total = time.perf_counter() - started
    head = ["# Benchmarks", "",
            "Written by `benchmarks/run.py` (`make bench` runs every section; each section names the "
            f"command and date that produced it); do not edit by hand. Last written {datetime.date.today().isoformat()}.",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), Python {platform.python_version()}, aegan {aegan.__version__}. "
            f"This run ({', '.join(wanted)}): {total / 60:.1f} minutes.", ""]
    Path(args.out).write_text("\n".join(head + body))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
