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
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402

import aegan  # noqa: E402
from aegan.data import load_dataset  # noqa: E402
from compression import compression_ablations_section, compression_section  # noqa: E402
from image_gans import image_gans_section  # noqa: E402
from pool import WORKERS, run_jobs  # noqa: E402
from speed import speed_section  # noqa: E402
from translation import translation_section  # noqa: E402
from tuning import tuning_section  # noqa: E402

# (label, aegan train arguments, every code size?); models not run at every size run at code 32 only
AE_MODELS = [
    ("classic (article MLP 128)", ["ae", "--preset", "classic"], True),
    ("ae mlp 512-256", ["ae", "--arch", "mlp"], True),
    ("dae mlp (gaussian 0.2)", ["dae", "--arch", "mlp"], False),
    ("sparse mlp (L1 1e-3)", ["sparse", "--arch", "mlp"], False),
    ("vae mlp (gaussian)", ["vae", "--arch", "mlp"], True),
    ("ae conv 32-64-128", ["ae", "--arch", "conv"], True),
    ("vae conv (gaussian)", ["vae", "--arch", "conv"], False),
]
QUICK_MODELS = {"classic (article MLP 128)", "ae conv 32-64-128", "vae mlp (gaussian)"}


def pca_mse(xtr: np.ndarray, xte: np.ndarray, k: int) -> tuple[float, float]:
    from sklearn.decomposition import PCA
    t0 = time.perf_counter()
    p = PCA(k, random_state=0).fit(xtr)
    mse = float(((p.inverse_transform(p.transform(xte)) - xte) ** 2).mean())
    return mse, time.perf_counter() - t0


def _shown(cmd: list[str], out: Path) -> str:
    return " ".join(shlex.quote(c) for c in cmd if c not in ("--quiet", "--overwrite")).replace(str(out), "RUN")


def autoencoders_section(quick: bool, workdir: Path) -> list[str]:
    """Reconstruction error, probe accuracies of the codes beside PCA and raw pixels, and the VAE
    bounds, at code sizes 2, 8 and 32 on Fashion-MNIST."""
    from aegan.evaluation import IWAE_EXAMPLES, IWAE_K, evaluate_autoencoder
    data = "fashion-mnist"
    try:
        test = load_dataset(data, "test")
        train = load_dataset(data, "train")
    except aegan.AeganError as e:
        return ["## Autoencoders on Fashion-MNIST", "", f"Skipped: {e}", ""]
    epochs, n_eval = (2, 2000) if quick else (10, 10000)
    codes = (2, 8, 32)
    extra = ["--max-samples", "6000"] if quick else []
    xte = test.x.reshape(len(test), -1).astype(np.float32) / 255.0
    xtr = train.x.reshape(len(train), -1).astype(np.float32) / 255.0
    if quick:
        xtr = xtr[:6000]
    rows, vae_rows, pca, base = [], [], {}, {}
    cmds = {(i, k): ["aegan", "train", *args, "--data", data, "--code-dim", str(k), "--epochs", str(epochs), *extra,
                     "--out", str(workdir / f"model{i}-code{k}"), "--quiet", "--overwrite"]
            for k in codes for i, (label, args, every) in enumerate(AE_MODELS)
            if not ((quick and label not in QUICK_MODELS) or (not every and k != 32))}
    # every training side by side, one per core with one thread each; the conv ones (slowest) first
    order = sorted(cmds, key=lambda ik: ("conv" not in AE_MODELS[ik[0]][0], ik))
    trained = run_jobs({f"model{i}-code{k}": [[sys.executable, "-m", "aegan", *cmds[i, k][1:]]] for i, k in order})
    for k in codes:
        pca[k], secs = pca_mse(xtr, xte, k)
        for i, (label, args, every) in enumerate(AE_MODELS):
            if (i, k) not in cmds:
                continue
            cmd, out, secs = cmds[i, k], workdir / f"model{i}-code{k}", trained[f"model{i}-code{k}"]
            run = aegan.load(out)
            mse = float(((run.reconstruct(test).reshape(len(test), -1) - xte) ** 2).mean())
            # what `aegan evaluate RUN --n N` reports; raw-pixel and PCA probes once per code size
            ev = evaluate_autoencoder(run, n_eval, baselines=k not in base)
            if k not in base:
                base[k] = {p: (ev[p]["raw"], ev[p][f"pca_{k}"]) for p in ("linear_probe", "knn")}
            shown = _shown(cmd, out) + f"; aegan evaluate RUN --n {n_eval}"
            rows.append((label, k, epochs, mse, mse / pca[k], ev["linear_probe"]["value"], ev["knn"]["value"],
                         f"{secs:.1f} s", f"`{shown}`"))
            if "elbo" in ev:
                vae_rows.append((label, k, epochs, ev["elbo"]["value"], ev[f"iwae_{IWAE_K}"]["value"],
                                 f"`{shown}`"))
            print(f"{label:28s} code {k:2d}: test MSE {mse:.5f} ({mse / pca[k]:.2f} x PCA), linear probe "
                  f"{rows[-1][5]:.3f}, 5-NN {rows[-1][6]:.3f} in {secs:.0f}s", flush=True)
        if k in base:
            rows.insert(len(rows) - sum(r[1] == k for r in rows),
                        ("PCA", k, "-", pca[k], 1.0, base[k]["linear_probe"][1], base[k]["knn"][1], "",
                         f"sklearn PCA({k}) (MSE: fit on the training pixels; probes: the evaluation's images)"))
    raw = next(iter(base.values()), None)
    lines = ["## Autoencoders on Fashion-MNIST",
             "",
             "Test-set mean squared error per pixel (pixels in [0, 1], all 10,000 test images), beside PCA "
             "with as many components as the code has dimensions, and the quality of the codes as features: "
             f"linear-probe accuracy (logistic regression on standardised codes of {n_eval:,} training images, "
             f"scored on {n_eval:,} test images) and 5-NN accuracy, both what `aegan evaluate RUN --n {n_eval}` "
             "prints, beside the same probes on PCA codes of the same size and on the raw pixels. Models train "
             "with their default settings (Adam, batch 128, lr 1e-3, 10% of the training set held out for "
             "validation, seed 0); the denoising, sparse and conv VAE models run at code 32 only, to keep the "
             "bench within its time. Wall time is the whole `aegan train` command on this machine, with one thread: "
             "the trainings ran side by side, one per core (benchmarks/pool.py).",
             "",
             "| model | code | epochs | test MSE | / PCA | linear probe | 5-NN | train wall time | command |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for label, k, ep, mse, ratio, lin, knn, secs, cmd in rows:
        lines.append(f"| {label} | {k} | {ep} | {mse:.5f} | {ratio:.2f} | {lin:.3f} | {knn:.3f} | {secs} | {cmd} |")
    if raw:
        lines.append(f"| raw pixels | 784 | - | - | - | {raw['linear_probe'][0]:.3f} | {raw['knn'][0]:.3f} | | "
                     "the same probes on the 784 pixels |")
    note = " (quick mode: fewer epochs and examples, not the target setting)" if quick else ""
    conv32 = next((r for r in rows if r[0].startswith("ae conv") and r[1] == 32), None)
    if conv32:
        verdict = "met" if conv32[4] <= 0.5 else "NOT met"
        lines += ["", f"Target (issue 2: conv autoencoder, code 32, {conv32[2]} epochs, at most half of PCA-32's "
                      f"test MSE): {conv32[3]:.5f} vs PCA-32 {pca[32]:.5f}, ratio {conv32[4]:.2f}: **{verdict}**"
                      + note]
    models32 = [r for r in rows if r[1] == 32 and r[0] != "PCA"]
    if models32 and raw:
        best = max(models32, key=lambda r: r[5])
        above = [r[0] for r in models32 if r[5] > raw["linear_probe"][0]]
        verdict = "met" if best[5] > raw["linear_probe"][0] else "NOT met"
        lines += ["", f"Target (issue 4: linear probe on 32-dimensional codes above the probe on raw pixels): best "
                      f"{best[0]} {best[5]:.3f} vs raw pixels {raw['linear_probe'][0]:.3f} (PCA-32 "
                      f"{base[32]['linear_probe'][1]:.3f}): **{verdict}**; above raw: {len(above)} of "
                      f"{len(models32)} models ({', '.join(above) or 'none'})" + note]
    if vae_rows:
        lines += ["", "VAE bounds on the test set in nats per image, higher is better. The decoder is a Gaussian "
                      "with one learned variance (sigma-VAE) on the model-space pixels, so these bound a log-density "
                      "of continuous pixels (positive values are possible; not comparable with published "
                      "Bernoulli-likelihood figures). ELBO over the whole test set, the "
                      f"importance-weighted bound with k={IWAE_K} on the first {IWAE_EXAMPLES:,} test images "
                      "(tighter, so at least the ELBO).", "",
                  "| model | code | epochs | test ELBO | IWAE bound (k=100) | command |", "|---|---:|---:|---:|---:|---|"]
        for label, k, ep, elbo, iwae, cmd in vae_rows:
            lines.append(f"| {label} | {k} | {ep} | {elbo:.1f} | {iwae:.1f} | {cmd} |")
    return lines + [""]


TOY_CONFIGS = [  # (label, aegan train gan arguments); the first row is the defaults
    ("defaults (ns, 30 epochs)", []),
    ("ns", ["--loss", "ns"]),
    ("minimax", ["--loss", "minimax"]),
    ("wgan", ["--loss", "wgan"]),
    ("wgan-gp", ["--loss", "wgan-gp"]),
    ("hinge", ["--loss", "hinge"]),
    ("lsgan", ["--loss", "lsgan"]),
    ("ns + PacGAN2", ["--loss", "ns", "--pack", "2"]),
]
PACGAN_PAPER = {"ring": "7.9 modes, 95.6% (PacGAN2)", "grid": "24.8 modes, 93.6% (PacGAN4)"}
TOY_TARGET_HQ = {"ring": 97.0, "grid": 93.6}  # issue 17: high quality % on the worst seed, every mode too


def toy_section(quick: bool, workdir: Path) -> list[str]:
    from aegan.runs.gan import MODE_SAMPLES
    seeds = (0, 1) if quick else (0, 1, 2, 3, 4)
    loss_seeds = seeds if quick else seeds[:3]  # the loss-comparison rows: fewer seeds, to fit the bench's time
    short = 1 if quick else 2  # epochs of the loss-comparison rows
    configs = TOY_CONFIGS[1:3] if quick else TOY_CONFIGS
    runs = {}  # (data, label, seed) -> (run folder, the command as shown)
    for data in ("ring", "grid"):
        for label, args in configs:
            epochs = [] if not args else ["--epochs", str(short)]
            for seed in (seeds if not args else loss_seeds):
                out = workdir / f"{data}-{label.replace(' ', '')}-{seed}"
                runs[data, label, seed] = (out, ["train", "gan", "--data", data, *args, *epochs, "--seed", str(seed)])
    secs = run_jobs({" ".join(map(str, k)): [[sys.executable, "-m", "aegan", *cmd, "--out", out, "--quiet",
                                              "--overwrite"]] for k, (out, cmd) in runs.items()})
    lines = ["## GANs on the 2-D mixtures (mode collapse)", "",
             f"PacGAN protocol: {MODE_SAMPLES} samples from the trained generator; a sample is high quality within "
             "3 standard deviations of its nearest mode; a mode is captured when a high-quality sample has it as "
             f"nearest mode; reverse KL of the mode histogram from uniform. Mean and spread (min-max) over seeds "
             f"{', '.join(map(str, seeds))} for the defaults, {', '.join(map(str, loss_seeds))} for the other rows, "
             "on the 100,000-point training set. The first row of each data set is "
             "`aegan train gan --data NAME` with nothing else (ns loss, MLP 256x3, z 2, batch 64, 30 epochs, "
             "EMA 0.999, linear learning-rate decay); the other rows compare losses and packing at the same "
             f"defaults but {short} epoch(s), to keep the table within this CPU's time. Wall time is per run, "
             f"each run one process with one thread, {WORKERS} side by side (benchmarks/pool.py).", "",
             "| data | setting | modes captured | high quality % | reverse KL | wall time | PacGAN paper's best | "
             "command |",
             "|---|---|---:|---:|---:|---:|---|---|"]
    verdicts = []
    for data in ("ring", "grid"):
        for label, args in configs:
            keys = [k for k in runs if k[:2] == (data, label)]
            stats = [aegan.load(runs[k][0]).mode_stats() for k in keys]
            modes = [st["modes"] for st in stats]
            hq = [100 * st["high_quality"] for st in stats]
            kl = [st["reverse_kl"] for st in stats]
            n_modes = stats[-1]["num_modes"]
            if not args:
                met = min(modes) == n_modes and min(hq) >= TOY_TARGET_HQ[data]
                verdicts.append(f"{min(modes)}/{n_modes} modes and {min(hq):.1f}% high quality: "
                                f"**{'met' if met else 'NOT met'}**")
            shown = "aegan " + " ".join(runs[keys[0]][1]).replace(f"--seed {keys[0][2]}", "--seed S") + " --out RUN"
            span = lambda v, f: f"{np.mean(v):{f}} ({np.min(v):{f}}-{np.max(v):{f}})"  # noqa: E731
            wall = np.mean([secs[" ".join(map(str, k))] for k in keys])
            lines.append(f"| {data} | {label} | {span(modes, '.1f')} / {n_modes} | {span(hq, '.1f')} | "
                         f"{span(kl, '.3f')} | {wall:.0f} s | {PACGAN_PAPER[data]} | `{shown}` |")
            print(f"{data} {label}: modes {modes} hq {[round(h, 1) for h in hq]}", flush=True)
    if verdicts:
        ring, grid = verdicts
        lines += ["", "Targets with the defaults, on the worst of the seeds: ring (issue 17: every mode, at least 97% "
                      f"high quality) {ring}; grid (issue 17: 25/25 modes, at least 93.6% high quality, PacGAN4's "
                      f"mean) {grid}."]
    return lines + [""]


def tabular_anomaly(seeds: int) -> list[tuple[str, float, float]]:
    """scikit-learn's breast-cancer table: fit on benign rows only (80% of them, split by seed),
    score the other benign rows and every malignant one; AUROC of aegan's detector with its
    defaults beside Isolation Forest and a one-class SVM on the same standardised columns."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import OneClassSVM
    x, y = load_breast_cancer(return_X_y=True)
    benign, malignant = x[y == 1], x[y == 0]
    out = {"aegan AnomalyDetector (defaults)": [], "Isolation Forest": [], "one-class SVM (RBF, nu 0.1)": []}
    for seed in range(seeds):
        perm = np.random.default_rng(seed).permutation(len(benign))
        cut = int(0.8 * len(benign))
        train, test = benign[perm[:cut]], np.vstack([benign[perm[cut:]], malignant])
        truth = np.r_[np.zeros(len(benign) - cut), np.ones(len(malignant))]
        det = aegan.AnomalyDetector(random_state=seed).fit(train.astype(np.float32))
        out["aegan AnomalyDetector (defaults)"].append(roc_auc_score(truth, det.decision_function(test.astype(np.float32))))
        sc = StandardScaler().fit(train)
        out["Isolation Forest"].append(roc_auc_score(truth, -IsolationForest(random_state=seed).fit(
            sc.transform(train)).score_samples(sc.transform(test))))
        out["one-class SVM (RBF, nu 0.1)"].append(roc_auc_score(truth, -OneClassSVM(gamma="scale", nu=0.1).fit(
            sc.transform(train)).score_samples(sc.transform(test))))
    return [(k, 100 * float(np.mean(v)), 100 * float(np.std(v))) for k, v in out.items()]


def anomaly_section(quick: bool, workdir: Path) -> list[str]:
    """The one-class protocol on Fashion-MNIST (`aegan anomaly bench`) and the breast-cancer table."""
    from aegan.anomaly import DEFAULT_SCORE, default_model, default_train
    seeds = 1 if quick else 3
    args = ["anomaly", "bench", "--data", "fashion-mnist", "--seeds", str(seeds)]
    if quick:
        args += ["--classes", "0,1", "--epochs", "1"]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "aegan", *args, "--json"], capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        return ["## Anomaly detection", "", f"Skipped: {proc.stderr.strip()}", ""]
    res = json.loads(proc.stdout)
    m, t = default_model("image", ()), default_train("image")
    peers = list(res["peers"])
    lines = ["## Anomaly detection", "",
             "### One-class Fashion-MNIST (Golan & El-Yaniv 2018 protocol)", "",
             "For each class: train on that class's training images only (6,000), score the whole test set (10,000), "
             "AUROC (%) with that class as normal. aegan's detector with its defaults "
             f"({m.family}, {m.arch} {','.join(map(str, m.conv_channels))}, code {m.code_dim}"
             + (f", {m.noise} noise {m.noise_level}" if m.family == "dae" else "") +
             f", {1 if quick else t.epochs} epoch(s), score {DEFAULT_SCORE}) over seeds 0-{seeds - 1}: mean and spread (min-max); "
             "beside it, in the same run on the same pixels, PCA reconstruction error (32 components), the mean "
             "distance to the 5 nearest training images (knn-pixels), Isolation Forest and a one-class SVM (RBF, gamma 'scale', nu 0.1). No test label is used for any choice.", "",
             "| class | aegan | " + " | ".join(peers) + " |", "|---|---:|" + "---:|" * len(peers)]
    for name, aucs in res["detector"].items():
        lines.append(f"| {name} | {np.mean(aucs):.1f} ({min(aucs):.1f}-{max(aucs):.1f}) | "
                     + " | ".join(f"{res['peers'][p][name]:.1f}" for p in peers) + " |")
    mean = res["mean"]
    per_seed = mean["detector_per_seed"]
    lines.append(f"| **mean** | **{mean['detector']:.2f}** ({min(per_seed):.2f}-{max(per_seed):.2f}) | "
                 + " | ".join(f"{mean[p]:.2f}" for p in peers) + " |")
    verdict = "met" if min(per_seed) > 94.5 else "NOT met"
    lines += ["", f"Command: `aegan {' '.join(args)}` ({secs / 60:.1f} minutes: detector "
                  f"{res['seconds']['detector'] / 60:.1f}, peers {res['seconds'].get('peers', 0) / 60:.1f}). "
                  "Published without pretrained features: ESAD 94.0, ARNet 93.9, GEOM 93.5 (their papers).",
              "", f"Target (issue 5: mean AUROC above 94.5 on every seed): {mean['detector']:.2f} "
                  f"(per seed {', '.join(f'{v:.2f}' for v in per_seed)}): **{verdict}**"
              + (" (quick mode: two classes, one epoch, not the target setting)" if quick else "")]
    rows = tabular_anomaly(1 if quick else 3)
    lines += ["", "### Tabular: breast cancer (scikit-learn's bundled table)", "",
              "Fit on 80% of the benign rows (split by seed), score the other benign rows and all 212 malignant ones; "
              f"AUROC (%) mean and spread over seeds 0-{(1 if quick else 3) - 1}. aegan: `aegan.AnomalyDetector("
              "random_state=seed).fit(benign_train)` with its defaults for tables; the peers see the same columns, "
              "standardised on the benign training rows.", "",
              "| detector | AUROC | spread (sd) |", "|---|---:|---:|"]
    lines += [f"| {name} | {mu:.1f} | {sd:.1f} |" for name, mu, sd in rows]
    return lines + [""]


SECTIONS = {"autoencoders": autoencoders_section, "toy": toy_section, "gan-images": image_gans_section,
            "anomaly": anomaly_section, "compression": compression_section,
            "compression-ablations": compression_ablations_section, "translation": translation_section,
            "tuning": tuning_section, "speed": speed_section}


HEADINGS = {"## Autoencoders on Fashion-MNIST": "autoencoders", "## GANs on the 2-D mixtures": "toy",
            "## GAN samples on Fashion-MNIST": "gan-images", "## Image GANs on Fashion-MNIST": "gan-images",
            "## Anomaly detection": "anomaly",
            "## Compression on Fashion-MNIST": "compression",
            "## Codec ablations on Fashion-MNIST": "compression-ablations",
            "## Image-to-image translation": "translation",
            "## Tuning on Fashion-MNIST": "tuning",
            "## Speed and scale": "speed"}


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
                    if name in ("gan-images", "compression", "translation") else {}
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
